-- A session of imapfilter against imapd, run by TestImapfilter. The
-- connection comes from the environment: IF_PORT, IF_TRANSPORT (plain,
-- starttls or tls), IF_USER, IF_PASSWORD. Results are printed as lines
-- "KEY value..." that the test checks; the message it fetches whole is
-- printed between MESSAGE-BEGIN and MESSAGE-END lines.

options.timeout = 20
options.info = false
options.certificates = false
options.starttls = os.getenv('IF_TRANSPORT') == 'starttls'

local tr = os.getenv('IF_TRANSPORT')
local acc = IMAP {
    server = 'localhost',
    port = tonumber(os.getenv('IF_PORT')),
    username = os.getenv('IF_USER'),
    password = os.getenv('IF_PASSWORD'),
    ssl = (tr == 'tls') and 'auto' or nil,
}

local function out(...)
    io.write(table.concat({...}, ' '), '\n')
    io.stdout:flush()
end

-- STATUS while INBOX is not selected, and later while it is (the
-- status-selected quirk: imapfilter checks the selected mailbox this way).
local exists, recent, unseen, uidnext = acc.INBOX:check_status()
out('STATUS', exists, unseen, uidnext)

out('UNSEEN', #acc.INBOX:is_unseen())

local one = acc.INBOX:contain_subject('generated message 0001')
out('SUBJECT', #one)
one:mark_flagged()
one:copy_messages(acc.Work)
acc.INBOX:contain_subject('generated message 0003'):move_messages(acc.Archive)
acc.INBOX:contain_subject('generated message 0002'):delete_messages()

local mime = acc.INBOX:contain_field('Message-ID', 'gen-4@example.org')
out('MIME', #mime)
for _, m in ipairs(mime) do
    local mbox, uid = table.unpack(m)
    local parts = 0
    for part, _ in pairs(mbox[uid]:fetch_structure()) do
        parts = parts + 1
    end
    out('PARTS', parts)
    io.write('MESSAGE-BEGIN\n', mbox[uid]:fetch_message(), 'MESSAGE-END\n')
end

acc.INBOX:is_unseen():mark_seen()
exists, recent, unseen, uidnext = acc.INBOX:check_status()
out('STATUS', exists, unseen, uidnext)

out('IDLE-START')
local update = acc.INBOX:enter_idle()
out('IDLE-END', tostring(update))
exists, recent, unseen, uidnext = acc.INBOX:check_status()
out('STATUS', exists, unseen, uidnext)
