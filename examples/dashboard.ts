import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { openCleanupQueue } from 'redisession-worker';

const app = express();
// your own admin check; this one wants `Authorization: Bearer $ADMIN_TOKEN`
const requireAdmin: express.RequestHandler = (req, res, next) => {
  if (process.env.ADMIN_TOKEN && req.get('authorization') === `Bearer ${process.env.ADMIN_TOKEN}`) next();
  else res.status(401).end();
};

// #region board
const cleanup = openCleanupQueue(); // or openCleanupQueue({ env: { QUEUE_REDIS_URL: ..., ... } })
const serverAdapter = new ExpressAdapter();
serverAdapter.setBasePath('/admin/queues');
createBullBoard({ queues: [new BullMQAdapter(cleanup.queue)], serverAdapter });
app.use('/admin/queues', requireAdmin, serverAdapter.getRouter()); // put it behind your own auth
// #endregion board

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
