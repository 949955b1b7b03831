'use strict';
// A session of the imapflow IMAP client (Node.js) against imapd, run by
// TestImapflow. Usage:
//
//   IMAPFLOW_MODULE=/path/to/node_modules/imapflow \
//     node imapflow_session.cjs HOST PORT plain|starttls|tls CA_FILE USER PASSWORD SEED_JSON
//
// SEED_JSON maps the generated message numbers of the seeded INBOX to
// their exact bytes. Every step asserts; the script prints OK and exits 0
// only when all hold and the client logged no warning or error.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { ImapFlow } = require(process.env.IMAPFLOW_MODULE);

const [host, port, transport, caFile, user, pass, seedFile] = process.argv.slice(2);
const seed = JSON.parse(fs.readFileSync(seedFile, 'utf8'));
const problems = [];

function logger(name) {
    const keep = level => entry => problems.push(`${name} ${level}: ${JSON.stringify(entry)}`);
    const trace = process.env.IMAPFLOW_TRACE ? entry => console.error(name, JSON.stringify(entry)) : () => {};
    return { debug: trace, info: trace, warn: keep('warn'), error: keep('error') };
}

function connect(name) {
    const c = new ImapFlow({
        host,
        port: Number(port),
        secure: transport === 'tls',
        doSTARTTLS: transport === 'starttls' ? true : transport === 'plain' ? false : undefined,
        servername: 'localhost',
        tls: { ca: [fs.readFileSync(caFile)], rejectUnauthorized: true },
        auth: { user, pass },
        qresync: true,
        logger: logger(name),
        emitLogs: false,
        disableAutoIdle: true
    });
    c.on('error', err => problems.push(`${name} error event: ${err.message}`));
    return c;
}

function messageNumber(source) {
    const m = /^Message-ID: <gen-(\d+)@example\.org>\r?$/im.exec(source);
    assert.ok(m, `no generated Message-ID in ${source.slice(0, 200)}`);
    return m[1];
}

function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
    const c = connect('main');
    await c.connect();
    assert.equal(c.secureConnection || c.socket?.encrypted === true, transport !== 'plain', 'TLS state');
    for (const ext of ['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT']) {
        assert.ok(c.enabled.has(ext), `${ext} not enabled: ${[...c.enabled]}`);
    }

    // LIST with special-use and STATUS.
    const boxes = await c.list({ statusQuery: { messages: true, unseen: true, uidNext: true } });
    const byPath = Object.fromEntries(boxes.map(b => [b.path, b]));
    assert.equal(byPath.Sent?.specialUse, '\\Sent');
    assert.equal(byPath.Trash?.specialUse, '\\Trash');
    assert.equal(byPath.Archive?.specialUse, '\\Archive');
    assert.equal(byPath.INBOX.status.messages, Object.keys(seed).length);

    // SELECT (with CONDSTORE/QRESYNC enabled), then every message intact.
    let box = await c.mailboxOpen('INBOX');
    assert.equal(box.exists, Object.keys(seed).length);
    assert.ok(box.highestModseq > 0n, `HIGHESTMODSEQ ${box.highestModseq}`);
    const seen = {};
    for await (const msg of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, source: true, size: true })) {
        const source = msg.source.toString('utf8');
        const n = messageNumber(source);
        assert.equal(source, seed[n], `message ${n} source`);
        assert.equal(msg.size, Buffer.byteLength(seed[n]), `message ${n} size`);
        seen[n] = msg;
    }
    assert.deepEqual(Object.keys(seen).sort(), Object.keys(seed).sort());

    // ENVELOPE and BODYSTRUCTURE of the MIME message, decoded by the client.
    const mime = seen['4'];
    assert.equal(mime.envelope.subject, 'café x');
    assert.equal(mime.envelope.from[0].name, 'Jörg');
    assert.equal(mime.envelope.from[0].address, 'jorg@example.org');
    assert.deepEqual(mime.envelope.to.map(a => a.address).filter(Boolean), ['a@example.org', 'b@example.org']);
    const bs = mime.bodyStructure;
    assert.equal(bs.type, 'multipart/mixed');
    assert.equal(bs.childNodes[0].type, 'multipart/alternative');
    assert.deepEqual(bs.childNodes[0].childNodes.map(p => p.type), ['text/plain', 'text/html']);
    const att = bs.childNodes[1];
    assert.equal(att.type, 'application/octet-stream');
    assert.equal(att.disposition, 'attachment');
    assert.equal(att.dispositionParameters.filename, 'data.bin');

    // Download a decoded part (BINARY when offered).
    const dl = await c.download(String(mime.uid), '2', { uid: true });
    const chunks = [];
    for await (const chunk of dl.content) chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from([...Array(48).keys()]));
    const text = await c.download(String(mime.uid), '1.1', { uid: true });
    const textChunks = [];
    for await (const chunk of text.content) textChunks.push(chunk);
    assert.equal(Buffer.concat(textChunks).toString('utf8'), 'Grüße, café, 日本語 4');

    // APPEND of a UTF-8 message, read back byte for byte; SEARCH finds it.
    const utf8 = 'From: Jörg <jörg@exämple.org>\r\nTo: demo@example.org\r\nSubject: Grüße aus Köln\r\n' +
        'Message-ID: <gen-900@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nÜberall Grüße.\r\n';
    const appended = await c.append('INBOX', utf8, ['\\Seen', '$Label1']);
    assert.equal(appended.uidValidity, box.uidValidity);
    const back = await c.fetchOne(String(appended.uid), { source: true, flags: true, envelope: true }, { uid: true });
    assert.equal(back.source.toString('utf8'), utf8);
    assert.ok(back.flags.has('\\Seen') && back.flags.has('$Label1'), `flags ${[...back.flags]}`);
    assert.equal(back.envelope.subject, 'Grüße aus Köln');
    assert.deepEqual(await c.search({ subject: 'Grüße aus' }, { uid: true }), [appended.uid]);
    const unseen = await c.search({ seen: false }, { uid: true });
    assert.ok(!unseen.includes(appended.uid));

    // STORE, then FETCH CHANGEDSINCE returns exactly the changed messages.
    const before = (await c.status('INBOX', { highestModseq: true })).highestModseq;
    const flagged = [seen['0'].uid, seen['2'].uid];
    await c.messageFlagsAdd(flagged.join(','), ['\\Flagged'], { uid: true });
    const changed = [];
    for await (const msg of c.fetch('1:*', { uid: true, flags: true }, { changedSince: before })) {
        assert.ok(msg.flags.has('\\Flagged'));
        changed.push(msg.uid);
    }
    assert.deepEqual(changed.sort((a, b) => a - b), flagged);
    await c.messageFlagsRemove(String(seen['2'].uid), ['\\Flagged'], { uid: true });

    // MOVE to Archive, EXPUNGE via delete; with QRESYNC expunges come as
    // VANISHED, which the client reports with UIDs.
    const expunged = [];
    c.on('expunge', e => expunged.push(e));
    const moved = await c.messageMove(String(seen['1'].uid), 'Archive', { uid: true });
    assert.equal(moved.uidMap.size, 1);
    assert.equal((await c.status('Archive', { messages: true })).messages, 1);
    assert.ok(await c.messageDelete(String(seen['3'].uid), { uid: true }));
    // imapflow does not count VANISHED down in mailbox.exists, so ask
    // with STATUS (of the selected mailbox, as many clients do).
    const count = (await c.status('INBOX', { messages: true })).messages;
    assert.equal(count, Object.keys(seed).length + 1 - 2);
    assert.ok(expunged.length >= 1, 'no expunge event');
    assert.ok(expunged.some(e => e.uid === seen['3'].uid || e.vanished), `expunge events ${JSON.stringify(expunged)}`);

    // IDLE: a message appended by another session arrives as EXISTS.
    const other = connect('other');
    await other.connect();
    const exists = new Promise(resolve => c.on('exists', e => resolve(e)));
    const idling = c.idle();
    await new Promise(r => setTimeout(r, 200));
    await other.append('INBOX', seed['0'].replace('gen-0@', 'gen-901@'));
    const ev = await withTimeout(exists, 5000, 'EXISTS during IDLE');
    assert.equal(ev.count, count + 1);
    await other.logout();

    // Mailbox management with UTF-8 names (UTF8=ACCEPT is enabled).
    await c.mailboxCreate(['Entwürfe', 'Ünter']);
    let names = (await c.list()).map(b => b.path);
    assert.ok(names.includes('Entwürfe/Ünter'), `${names}`);
    await c.mailboxRename('Entwürfe/Ünter', 'Entwürfe/Oben');
    await c.mailboxDelete('Entwürfe/Oben');
    await c.mailboxDelete('Entwürfe');
    names = (await c.list()).map(b => b.path);
    assert.ok(!names.some(n => n.startsWith('Entwürfe')), `${names}`);

    await idling.catch(() => {});
    await c.logout();
    if (problems.length) {
        throw new Error('client reported problems:\n' + problems.join('\n'));
    }
    console.log('OK');
}

main().catch(err => {
    console.error(err && err.stack ? err.stack : String(err));
    if (problems.length) console.error(problems.join('\n'));
    process.exit(1);
});
