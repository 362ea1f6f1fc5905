// The official Taskcluster JavaScript client (`taskcluster-client`) against relyard: auth with
// root and temporary credentials, a two-task graph through the queue with task credentials,
// an s3 artifact up through its putUrl and down through `downloadArtifact` and a signed
// URL, errors in Taskcluster's shape, and secrets.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import taskcluster from 'taskcluster-client';
import { BACKENDS, startServer } from './server.mjs';

const QUEUE_ID = 'proj-js/ci';

function taskDef(group, dependencies = []) {
  return {
    taskQueueId: QUEUE_ID,
    schedulerId: 'js-tests',
    taskGroupId: group,
    created: taskcluster.fromNowJSON(),
    deadline: taskcluster.fromNowJSON('1 hour'),
    dependencies,
    payload: { command: [['true']] },
    metadata: {
      name: 'js test task',
      description: 'made by clients.test.mjs',
      owner: 'tests@relyard.invalid',
      source: 'https://relyard.invalid/tests',
    },
  };
}

// A stream that keeps what is written to it.
function collector() {
  const chunks = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

for (const backend of BACKENDS) {
  describe(`taskcluster-client on ${backend}`, () => {
    let server;
    let options;
    before(async () => {
      server = await startServer(backend);
      options = { rootUrl: server.rootUrl, credentials: server.credentials };
    });
    after(async () => server && server.stop());

    test('root and temporary credentials hold their scopes', async () => {
      const auth = new taskcluster.Auth(options);
      assert.equal((await auth.ping()).alive, true);
      assert.deepEqual((await auth.currentScopes()).scopes, ['*']);

      const temporary = taskcluster.createTemporaryCredentials({
        scopes: ['auth:current-scopes', 'queue:get-artifact:private/*'],
        expiry: taskcluster.fromNow('1 hour'),
        credentials: server.credentials,
      });
      const narrowed = new taskcluster.Auth({ rootUrl: server.rootUrl, credentials: temporary });
      const scopes = (await narrowed.currentScopes()).scopes;
      assert.ok(scopes.includes('queue:get-artifact:private/*'), scopes.join(' '));
      assert.ok(!scopes.includes('*'));
      await assert.rejects(
        narrowed.createClient('js/escalated', { expires: taskcluster.fromNowJSON('1 day'), description: 'x' }),
        err => err.statusCode === 403 && err.code === 'InsufficientScopes' && !!err.body.requestInfo,
      );
    });

    test('a graph runs with task credentials and its artifact comes back byte-identical', async () => {
      const queue = new taskcluster.Queue(options);
      assert.equal((await queue.ping()).alive, true);
      const group = taskcluster.slugid();
      const [a, b] = [taskcluster.slugid(), taskcluster.slugid()];
      await queue.createTask(a, taskDef(group));
      await queue.createTask(b, taskDef(group, [a]));
      assert.equal((await queue.status(b)).status.state, 'unscheduled');

      const { tasks } = await queue.claimWork(QUEUE_ID, { workerGroup: 'js', workerId: 'w1', tasks: 4 });
      assert.deepEqual(tasks.map(t => t.status.taskId), [a]);
      const asTask = new taskcluster.Queue({ rootUrl: server.rootUrl, credentials: tasks[0].credentials });
      const reclaimed = await asTask.reclaimTask(a, 0);
      assert.equal(reclaimed.status.runs[0].state, 'running');

      const body = Buffer.from('bytes from the javascript client\n'.repeat(200));
      const created = await asTask.createArtifact(a, 0, 'private/build/out.txt', {
        storageType: 's3',
        expires: taskcluster.fromNowJSON('30 minutes'),
        contentType: 'text/plain',
      });
      const put = await fetch(created.putUrl, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
      assert.equal(put.status, 200, await put.text());
      // A task's credentials resolve their own run only.
      await assert.rejects(asTask.reportCompleted(b, 0), err => err.statusCode === 403);
      await asTask.reportCompleted(a, 0);
      assert.equal((await queue.status(b)).status.state, 'pending');

      const downloaded = collector();
      const contentType = await taskcluster.downloadArtifact({
        taskId: a, name: 'private/build/out.txt', queue, streamFactory: async () => downloaded.stream,
      });
      assert.equal(contentType, 'text/plain');
      assert.deepEqual(downloaded.bytes(), body);

      // A signed URL (bewit) reads a private artifact without an Authorization header.
      const signed = queue.buildSignedUrl(queue.getLatestArtifact, a, 'private/build/out.txt');
      const fetched = await fetch(signed);
      assert.equal(fetched.status, 200);
      assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), body);
      const unsigned = await fetch(queue.buildUrl(queue.getLatestArtifact, a, 'private/build/out.txt'));
      assert.equal(unsigned.status, 403);

      const listed = await queue.listTaskGroup(group);
      assert.deepEqual(listed.tasks.map(t => t.status.taskId).sort(), [a, b].sort());
      const dependents = await queue.listDependentTasks(a);
      assert.deepEqual(dependents.tasks.map(t => t.status.taskId), [b]);
    });

    test('bad input gets Taskcluster\'s error shape and stores nothing', async () => {
      const queue = new taskcluster.Queue(options);
      const id = taskcluster.slugid();
      await assert.rejects(
        queue.createTask(id, { ...taskDef(taskcluster.slugid()), deadline: taskcluster.fromNowJSON('10 days') }),
        err => err.statusCode === 400 && typeof err.body.message === 'string' && !!err.body.requestInfo,
      );
      await assert.rejects(queue.task(id), err => err.statusCode === 404 && err.code === 'ResourceNotFound');
    });

    test('secrets round-trip', async () => {
      const secrets = new taskcluster.Secrets(options);
      await secrets.set('project/js/token', { secret: { token: 'hunter2' }, expires: taskcluster.fromNowJSON('1 hour') });
      assert.deepEqual((await secrets.get('project/js/token')).secret, { token: 'hunter2' });
      await secrets.remove('project/js/token');
      await assert.rejects(secrets.get('project/js/token'), err => err.statusCode === 404);
    });
  });
}
