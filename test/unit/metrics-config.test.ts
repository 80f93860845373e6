import { describe, expect, it } from 'vitest';
import { EnvConfigError, loadConfig } from '../../worker/src/worker/config.js';

describe('METRICS_* settings', () => {
  it('are off by default, loopback when on', () => {
    expect(loadConfig({}).metrics).toEqual({ port: null, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics.host).toBe('0.0.0.0');
  });

  it('give each PM2 instance its own port: METRICS_PORT + NODE_APP_INSTANCE', () => {
    expect(loadConfig({ METRICS_PORT: '9464', NODE_APP_INSTANCE: '0' }).metrics.port).toBe(9464);
    expect(loadConfig({ METRICS_PORT: '9464', NODE_APP_INSTANCE: '3' }).metrics.port).toBe(9467);
    expect(loadConfig({ NODE_APP_INSTANCE: '3' }).metrics.port).toBeNull();
  });

  it('reject a bad port, naming the variable', () => {
    expect(() => loadConfig({ METRICS_PORT: 'http' })).toThrow(
      /METRICS_PORT="http": expected an integer from 1 to 65535/,
    );
    expect(() => loadConfig({ METRICS_PORT: '0' })).toThrow(EnvConfigError);
    expect(() => loadConfig({ METRICS_PORT: '65535', NODE_APP_INSTANCE: '1' })).toThrow(/above port 65535/);
  });
});
