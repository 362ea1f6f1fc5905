// Starts a real `relyard serve` for the tests: SQLite in a temporary directory, or a fresh
// schema of TEST_DATABASE_URL's PostgreSQL database.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';

export const BACKENDS = ['sqlite', ...(process.env.TEST_DATABASE_URL ? ['postgres'] : [])];

function databaseUrl(backend, dir) {
  if (backend === 'sqlite') {
    return `sqlite:${join(dir, 'relyard.db')}`;
  }
  const base = process.env.TEST_DATABASE_URL;
  const schema = `relyard_js_${randomBytes(6).toString('hex')}`;
  execFileSync('psql', [base, '-q', '-c', `CREATE SCHEMA ${schema}`]);
  return `${base}${base.includes('?') ? '&' : '?'}options=-c%20search_path%3D${schema}`;
}

// Resolves once the server logs its root URL; `stop()` ends it and removes its files.
export async function startServer(backend) {
  const dir = mkdtempSync(join(tmpdir(), 'relyard-js-'));
  const rootAccessToken = randomBytes(33).toString('base64url').slice(0, 44);
  const child = spawn(process.env.RELYARD_BIN || 'relyard', [
    'serve', '--listen', '127.0.0.1:0',
    '--database-url', databaseUrl(backend, dir),
    '--data-dir', join(dir, 'data'),
    `--root-access-token=${rootAccessToken}`,
    '--encryption-keys', 'test:a test encryption key for js',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = [];
  const rootUrl = await new Promise((resolve, reject) => {
    // The log keeps being read after the URL, so the server never blocks on a full pipe.
    const lines = createInterface({ input: child.stderr });
    lines.on('line', line => {
      log.push(line);
      const found = line.match(/relyard serving at (\S+)/);
      if (found) {
        resolve(found[1]);
      }
    });
    child.on('exit', code => reject(new Error(`relyard exited (${code}):\n${log.join('\n')}`)));
    child.on('error', reject);
  });
  return {
    rootUrl,
    credentials: { clientId: 'static/taskcluster/root', accessToken: rootAccessToken },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise(resolve => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
