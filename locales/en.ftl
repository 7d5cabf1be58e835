### upbot's texts in English: the source every other catalogue translates.
### The WS API and the CLI show these exact texts; tests quote many of them.
### Every message here exists in pt.ftl, ru.ftl and ko.ftl with the same placeholders.
### DOWN, UP and DEGRADED stay in upper-case Latin in every language.

## Units and small words

unit-d = { $n }d
unit-h = { $n }h
unit-m = { $n }m
unit-s = { $n }s
unit-s-frac = { $n }s
unit-ms = { $n }ms
at = at { $time }
until = { $at } (in { $duration })
every = every { $duration }
someone = someone
an-admin = an admin
the-operator = the operator
your-group = your group
monitors-count = { $count ->
    [one] { $count } monitor
   *[other] { $count } monitors
}
state-pending = PENDING
state-paused = PAUSED
lang-name-en = English
lang-name-pt = Portuguese
lang-name-ru = Russian
lang-name-ko = Korean

## Alerts

alert-back-after = back after { $duration } down
alert-now-up = now UP
alert-recovered = recovered
alert-now = now { $state }
alert-changes = <b>{ $count ->
    [one] { $count } change
   *[other] { $count } changes
}</b>: { $counts }
storm-header = 🚨 <b>{ $count ->
    [one] { $count } change
   *[other] { $count } changes
}</b>: { $counts }
storm-more = … and { $count } more · { $cmd } down shows every monitor not UP
count-state = { $count } { $state }
count-still-down = { $count } still DOWN
behind = + { $count } behind it
reminder-line = ⏰ still <b>DOWN</b> for { $duration } · #{ $id } { $who }{ $reason } · since { $since }
mute-ended-line = { $icon } <b>{ $state }</b> #{ $id } { $who }{ $reason } · was { $from } · since { $since }
acked-notice = ✅ #{ $id } { $who } ({ $state }) acked by { $by }{ $why }. No reminders until it recovers.
muted-notice-all = 🔕 All monitors of this chat muted by { $by } until { $until }{ $why }. Probing goes on.
muted-notice-one = 🔕 #{ $id } { $who } muted by { $by } until { $until }{ $why }. Probing goes on.
mute-ended-all-same = 🔔 <b>Mute ended</b> for all monitors of this chat; nothing changed while it lasted.
mute-ended-one-same = 🔔 <b>Mute ended</b> for #{ $id } { $who }; nothing changed while it lasted: it is { $state }.
mute-ended-changed = 🔔 <b>Mute ended</b>: { $count ->
    [one] { $count } monitor
   *[other] { $count } monitors
} changed while it lasted ({ $counts })
mute-ended-changed-all = 🔔 <b>Mute ended</b> for all monitors of this chat: { $count ->
    [one] { $count } monitor
   *[other] { $count } monitors
} changed while it lasted ({ $counts })

## Buttons under an alert, and their answers

button-ack = ✅ Ack
button-mute = 🔕 Mute 1h
button-pause = ⏸ Pause
button-stale = This button no longer does anything.
press-acked-toast = ✅ Acked. No reminders until it recovers.
press-acked-line = ✅ Acked by { $by }
press-muted-toast = 🔕 Muted until { $until }.
press-muted-line = 🔕 Muted by { $by } until { $until }
press-paused-toast = ⏸ Paused.
press-paused-line = ⏸ Paused by { $by }; { $cmd } { $id } starts it again
press-done-toast = Done.
press-done-line = Done by { $by }: { $reply }

## Command replies

added = ✅ Added #{ $id } <b>{ $name }</b>: { $what }.
added-push = push monitor { $name }
added-probe = { $kind } { $target }, every { $every }
added-tail = I'll post here when it goes DOWN or comes back UP. Remove it with { $cmd } { $id }.
rotated = 🔑 New token for #{ $id } <b>{ $name }</b>; the old URLs no longer work.
deleted = 🗑 Deleted #{ $id } { $who }.
paused = ⏸ Paused #{ $id } { $who }. Resume with { $cmd } { $id }.
resumed = ▶️ Resumed #{ $id } { $who }; it stays PENDING until the next checks decide.
acked = ✅ #{ $id } { $who } acked by { $by }{ $why }. No reminders until it recovers.
muted = 🔕 Muted { $what } until { $until }{ $why }. Probing goes on; when the mute ends I'll say what changed. { $cmd } { $end } ends it now.
muted-what-all = every monitor of this chat ({ $count })
unmuted = { $changed ->
    [0] 🔔 Unmuted { $what }; nothing changed while it was muted.
    [one] 🔔 Unmuted { $what }; { $changed } monitor changed while it was muted (see the next message).
   *[other] 🔔 Unmuted { $what }; { $changed } monitors changed while it was muted (see the next message).
}
unmuted-what-chat = this chat
reminders-on = ⏰ { $what }: a reminder every { $every } while DOWN (unless acked or muted).
reminders-off = ⏰ { $what }: no reminders.
quiet-on = 🔈 Quiet mode on: UP and recovery messages arrive without sound; DOWN always with sound.
quiet-off = 🔔 Quiet mode off: every alert arrives with sound.
lang-set = 🌐 This chat now speaks { $name }. { $cmd } en|pt|ru|ko changes it.
lang-current = 🌐 This chat speaks { $name }. { $cmd } en|pt|ru|ko changes it.
mark-acked = ✅ acked by { $by }
mark-muted = 🔕 muted until { $until }
list-down-none = 🟢 Every monitor is UP. { $cmd } shows them all.
list-down-head = <b>{ $count } not UP</b>
list-empty = No monitors in this chat yet. Add one with { $cmd } 192.0.2.10 or { $cmd } example.com:443
list-head = <b>{ $count ->
    [one] { $count } monitor
   *[other] { $count } monitors
}</b>
rtt-ms = { $ms } ms
list-loss = { $pct }% loss
no-rtt = no RTT yet
url-webhook = status webhook (POST): <code>{ $url }</code>
url-heartbeat = heartbeat (GET or POST): <code>{ $url }</code>
push-expected = expected every { $every }, grace { $grace }
status-head = { $icon } #{ $id } { $who } is <b>{ $state }</b> { $since }
status-since = since { $time } ({ $ago })
status-reason = reason: { $reason }
status-last-heartbeat = last heartbeat: { $time }
status-settings = { $what } · every { $every } · timeout { $timeout } · fails { $fails } · recovers { $recovers }
status-ping = retries { $retries } · DEGRADED from { $loss }% loss over { $window } probes
status-ping-loss-off = retries { $retries } · DEGRADED for loss: off
status-packets = packets (24 h): { $sent } sent, { $lost } lost ({ $pct }%)
status-window = last { $count ->
    [one] probe
   *[other] { $count } probes
}: { $pct }% loss
stats-rtt = RTT min/avg/max (24 h): { $rtt }
stats-rtt-values = { $min } / { $avg } / { $max } ms
stats-none-yet = none yet
stats-no-probes = no probes in the last 24 h
stats-loss-of = loss: { $loss }% of { $probes } probes (24 h)
stats-uptime = uptime 24 h: { $day } · 7 d: { $week } · 30 d: { $month }
stats-loss-uptime = loss: { $loss }% · uptime (24 h): { $uptime }% · { $probes } probes

## Help, menus and other chat texts

help-greeting = 👋 I watch hosts and tell this chat when they go DOWN and come back UP.
help-commands = <b>Commands</b>
help-options = { $cmd } options: { $keys }
help-examples = Examples: { $cmd } 192.0.2.10 · { $cmd } example.com:443 name=web · { $cmd } tcp db.lan 5432 interval=1m · { $cmd } push nightly heartbeat=1d · { $cmd } https://example.com/health keyword=ok · { $cmd } dns example.com type=MX
help-groups = In groups only admins may add, delete, pause, resume, mute, remind, quiet or change the language; anyone may ack.
cmd-add = watch a host, host:port, URL or DNS name
cmd-del = stop watching
cmd-list = this chat's monitors
cmd-status = state, RTT, loss, uptime over 24 h
cmd-pause = stop probing without deleting
cmd-resume = start probing again
cmd-rotate = new webhook URLs for a push monitor
cmd-graph = response-time chart with uptime and incidents
cmd-page = public status page of this chat's monitors
cmd-ack = I'm on it: stop reminders until it recovers
cmd-mute = hold alerts for a while; probing goes on
cmd-unmute = end a mute now and hear what changed
cmd-remind = remind while DOWN (neither acked nor muted)
cmd-quiet = UP messages without sound (DOWN always with)
cmd-lang = the chat's language: en, pt, ru or ko
cmd-help = how to use this bot
cmd-chatid = this chat's id
chat-id = This chat's id is <code>{ $id }</code>.
chat-id-topic = This chat's id is <code>{ $id }</code> (topic <code>{ $topic }</code>).
not-allowed =
    🔒 This chat (id <code>{ $id }</code>) is not allowed to use this bot, so I will not act on commands here.
    To allow it, the operator adds <code>{ $id }</code> to UPBOT_ALLOWED_CHATS (comma-separated ids, or * for any chat) and restarts upbot, or adds a monitor for chat_id <code>{ $id }</code> through the API.
unknown-command = Unknown command { $cmd }. Commands: { $cmds }; { $help } explains them.
send-help = Send { $cmd } for the commands.
stale = ⌛ Ignored { $cmd } sent { $ago } ago while upbot was offline; send it again if you still want it.
usage-selector = usage: { $cmd } &lt;id&gt; (see { $list })
err-internal-chat = ⚠️ Something went wrong on the server; the operator can see it in the log.

## Push URLs in private

urls-private-head = 🔑 Push monitor #{ $id } <b>{ $name }</b> in <b>{ $group }</b>
urls-private-keep = Keep them private: whoever has them can report for this monitor. { $cmd } { $id } in the group replaces them.
urls-sent-privately = 🔒 I sent you the URLs privately.
urls-cannot-message = 🔒 URLs are shown only in a private chat, and I cannot message you: open a private chat with @{ $bot }, press Start, then send { $cmd } { $id } here.
urls-anonymous = 🔒 URLs are shown only in a private chat, and you posted anonymously: send { $cmd } { $id } as yourself to get them.
urls-admins-only = 🔒 Only admins get the URLs, in a private chat.
secret-deleted = 🗑 I deleted your message: it showed a secret.
secret-kept = ⚠️ Your message shows a secret and I may not delete messages here: delete it yourself (or make me an admin who may delete messages).

## Charts (/graph) and the status page (/page)

period-hour = last hour
period-day = last 24 h
period-week = last 7 days
period-month = last 30 days
month = { $m ->
    [1] Jan
    [2] Feb
    [3] Mar
    [4] Apr
    [5] May
    [6] Jun
    [7] Jul
    [8] Aug
    [9] Sep
    [10] Oct
    [11] Nov
   *[12] Dec
}
day-month = { $day } { $month }
graph-no-data = no data in this period yet
graph-uptime = uptime { $uptime }
graph-down = DOWN { $duration }
graph-degraded = DEGRADED { $duration }
graph-incidents = { $count ->
    [0] no incidents
    [one] { $count } incident
   *[other] { $count } incidents
}
graph-incident = • { $start } UTC, { $end }: DOWN { $duration }
graph-until = until { $time }
graph-still-down = still DOWN
graph-earlier = … and { $count } earlier
graph-rtt = RTT min/avg/max: { $min } / { $avg } / { $max } ms
page-head-on = 🌐 This chat's status page
page-head-published = 🌐 Published this chat's status page
page-targets-shown = Targets are shown.
page-targets-hidden = Targets are hidden ({ $cmd } on targets shows them).
page-on = { $head }: { $url }
    It shows { $monitors } with their state, 90 days of uptime and response times. { $targets } Take it down with { $cmd } off.
page-taken-down = 🌐 The status page is taken down; its address now answers 404. { $cmd } on publishes it at a new address.
page-none = This chat has no status page. { $cmd } on publishes one (read-only, for anyone with the link).

## Probe failure reasons (stored in English; translated when a chat is told)

reason-timed-out = timed out
reason-timed-out-after = timed out after { $duration }
reason-refused = connection refused
reason-host-unreachable = host unreachable
reason-network-unreachable = network unreachable
reason-network-down = network is down
reason-blocked = blocked by a local firewall rule
reason-reset = connection reset
reason-aborted = connection aborted
reason-closed = connection closed
reason-no-local-address = no local address can reach this target
reason-no-local-port = no free local port
reason-no-family = this address family is not supported here
reason-too-many-files = too many open files on the monitoring host
reason-out-of-memory = out of memory on the monitoring host
reason-network-error = network error
reason-prohibited = communication administratively prohibited
reason-destination-unreachable = destination unreachable
reason-time-exceeded = time exceeded in transit
reason-icmp-unexpected = unexpected ICMP type { $type } code { $code }
reason-no-such-host = no such host
reason-no-addresses = no addresses
reason-lookup-timed-out = lookup timed out
reason-dns-temporary = temporary failure in name resolution
reason-dns = dns: { $detail }
reason-permission = permission denied: { $detail }
reason-no-raw-socket = ICMP needs CAP_NET_RAW
reason-pings-lost = { $count } of { $count } pings lost
reason-loss-window = { $pct }% loss over the last { $count } probes
reason-no-heartbeat = no heartbeat for { $duration }
reason-reported-down = reported down
reason-reported-degraded = reported degraded
reason-not-probed = push monitors are not probed
reason-rule-refused = { $ip } is refused by the UPBOT_CHAT_TARGETS rule { $rule }
reason-rule-none = { $ip } is not allowed by any UPBOT_CHAT_TARGETS rule

## Errors (the WS API and the CLI show the English text, with the same codes)

err-usage = usage: { $cmd } { $args }
err-usage-kind = usage: /add { $kind } <host> …
err-field = { $field }: { $error }
err-given-twice = { $field } is given twice
err-unknown-option = unknown option { $option }; known: { $known }
err-unexpected-argument = unexpected argument { $word }
err-unexpected-argument-kv = unexpected argument { $word }; options are key=value
err-unexpected-usage = unexpected { $word }; usage: { $cmd } { $args }
err-unbalanced-quote = unbalanced quote
err-id-required = a monitor id is required
err-invalid-id = invalid id { $id }
err-target-required = target is required (a host, host:port, tcp://host:port, an http(s):// URL or a name for kind dns)
err-target-empty = target is empty
err-target-host = invalid host { $host }: expected a host name, IPv4 or IPv6 address
err-target-port = invalid port { $port }: expected 1-65535
err-target-ping-port = a ping target takes no port
err-target-scheme = unsupported scheme { $scheme }: use a host, host:port or tcp://host:port
err-target-not-unicast = { $host } is not a host address (unspecified, broadcast or multicast)
err-target-policy = { $host }: { $why }; ask the operator to add it
err-port-zero = port must be a port 1-65535, got 0
err-push-only = heartbeat, grace, secret and sign_heartbeats are for push monitors (kind push)
err-push-fields = push monitors take heartbeat, grace, secret and sign_heartbeats; port, timeout, fails, recovers, retries, loss and window do not apply
err-push-name = push monitors need a name: { $error }
err-interval-range = interval must be between 1s and 24h, got { $got }
err-timeout-longer = timeout must not be longer than the interval
err-timeout-min = timeout must be at least 100ms
err-count-range = { $field } must be between 1 and { $max }, got { $got }
err-ping-only = retries, loss and window are for ping monitors (a tcp connect that times out is always tried once more)
err-retries-range = retries must be between 0 and { $max }, got { $got }
err-loss-range = loss must be a percentage from 1 to 100, or off; got { $got }
err-window-range = window must be between { $min } and { $max } probes, got { $got }
err-not-loss = { $value } is not a loss threshold (a percentage such as 20 or 20%, or off)
err-must-be-loss = must be a percentage such as 20 or "20%", or "off"
err-heartbeat-range = heartbeat must be between 1s and 90 days, got { $got }
err-grace-range = grace must be between 1s and 90 days, got { $got }
err-sign-needs-secret = sign_heartbeats=true needs a secret to sign with
err-set-by-chat = { $field } is set by the chat itself
err-parent-unknown = parent={ $id }: there is no monitor #{ $id } here (see /list)
err-parent-other-chat = parent={ $id }: #{ $id } alerts another chat; a parent must alert the same chat
err-parent-cycle = parent={ $id } would make a cycle: { $path }
err-parent-depth = parent chains are limited to { $max } levels
err-name-empty = name must not be empty
err-name-long = name is longer than { $max } characters
err-name-control = name must not contain control characters
err-secret-form = secret must be 1 to { $max } printable characters without spaces
err-secret-whsec = a secret starting with whsec_ must continue with base64 (Standard Webhooks)
err-admins-only = only group administrators may change monitors
err-no-monitor = no monitor #{ $id }
err-no-monitor-for = no monitor for { $host }
err-several-monitors = { $host } matches several monitors ({ $ids }); use the id
err-push-exists = a push monitor named { $name } already exists as #{ $id }
err-already-watched = { $target } is already watched as #{ $id }
err-chat-limit = this chat has { $count } monitors, the most UPBOT_CHAT_MAX_MONITORS allows ({ $max }); delete one first
err-duration-required = a duration is required, e.g. 30m or 2h
err-mute-range = a mute lasts 1s to 366 days, got { $got }
err-remind-range = remind must be between 10s and 30 days, got { $got }
err-muted-with-all = #{ $id } is muted with all: unmute all ends it
err-not-muted = #{ $id } is not muted
err-nothing-muted = nothing is muted in this chat
err-not-push = #{ $id } is not a push monitor; only push monitors have a token
err-ack-state = only a DOWN or DEGRADED monitor can be acked; it is { $state }
err-on-monitor = #{ $id }: { $error }
err-page-say-on = say on: /page on targets
err-title-long = title: at most { $max } characters
err-title-control = title: no control characters
err-out-of-range = { $value } is out of range
err-not-whole-number = invalid value: string { $value }, expected a whole number (a JSON number or a numeric string)
err-invalid-duration = invalid duration { $value }: use e.g. 30, 30s, 5m
err-invalid-duration-number = invalid duration { $value }
err-unknown-kind = unknown kind { $value }; use ping, tcp, push, http or dns
err-not-flag = { $value } is not true or false
err-must-be-flag = must be true or false
err-not-monitor-id = { $value } is not a monitor id (a whole number such as 7)
err-not-scope = { $value } is neither a monitor id (such as 7) nor all
err-unknown-period = unknown period { $value }; use 1h, 24h, 7d or 30d
err-unknown-lang = unknown language { $value }; use en, pt, ru or ko

## Warnings on a reply

warn-no-icmp = ICMP is unavailable on this server ({ $why }): this ping monitor stays PENDING until upbot runs with CAP_NET_RAW; a tcp monitor (host:port) works meanwhile
reason-raw-socket-denied = permission denied opening a raw { $family } socket: { $detail }

## http and dns monitors: their settings line in /status, their add errors, their
## probe failure reasons (stored in English; translated when a chat is told)

kind-expect = expect { $expect }
kind-keyword = keyword { $keyword }
kind-degraded = degraded above { $limit }
kind-cert-days = certificate warning { $days } days before expiry
kind-tls-off = certificate not verified
kind-system-resolver = system resolver
err-http-port = an http monitor's port is part of its URL
err-url-twice = give the URL once: as target or as url, not both
err-field-for-kind = { $field } is for { $kind } monitors
err-expect-kind = expect is for http and dns monitors
err-method = method must be GET or HEAD, got { $got }
err-expect-status = expect: { $part } is not a status code, a range like 200-299, or 2xx
err-expect-codes = expect: give status codes, e.g. 200-299,301
err-keyword-empty = keyword must not be empty (keyword=text, or keyword=!text for must-not-contain)
err-keyword-long = keyword is longer than { $max } characters
err-keyword-control = keyword must not contain control characters
err-keyword-head = keyword needs the body, which HEAD does not fetch: use method=GET
err-degraded-range = degraded must be above 0 and below the timeout ({ $timeout })
err-cert-days-range = cert_days must be between 0 and { $max }, got { $got }
err-record-type = record_type must be A, AAAA, MX, TXT or CNAME, got { $got }
err-expect-records = expect: give the records the answer must contain
err-expect-host = expect: { $value } is not a host name
err-expect-a = expect: { $value } is not an IPv4 address (type A)
err-expect-aaaa = expect: { $value } is not an IPv6 address (type AAAA)
err-expect-mx = expect: { $value } is not an MX record (e.g. "10 mail.example.com")
err-expect-txt = expect: the TXT text is empty
err-target-url-kind = a URL is an http target, not { $kind }
err-target-http-url = an http target is a URL, e.g. https://{ $host }/health
err-target-http = an http target is a URL
err-target-dns-port = a dns target is a name to look up (give the server as server=host:port)
err-target-dns-address = a dns target is a name to look up, not an address ({ $host })
err-url = invalid URL { $url }: { $why }
err-url-long = longer than { $max } characters
err-url-credentials = credentials in the URL are not supported
err-url-no-host = no host
reason-and = { $first }; { $second }
reason-http-status = HTTP { $status } (expected { $expected })
reason-http-redirects = more than { $count } redirects
reason-keyword-missing = keyword "{ $keyword }" not found in the response
reason-keyword-present = keyword "{ $keyword }" found in the response (must not be)
reason-slow = slow response: { $took } (degraded above { $limit })
reason-cert-expires = certificate expires in { $days ->
    [one] { $days } day
   *[other] { $days } days
}
reason-cert-expired-today = certificate expired today ({ $date })
reason-cert-expired-ago = certificate expired { $days ->
    [one] { $days } day
   *[other] { $days } days
} ago ({ $date })
reason-cert-expired = certificate expired
reason-cert-not-yet = certificate is not valid yet
reason-cert-untrusted = certificate not trusted: unknown issuer (self-signed, or signed by a private CA)
reason-cert-name = certificate is not valid for { $host }
reason-cert-name-other = certificate is not valid for { $host } (it is for { $names })
reason-cert-revoked = certificate revoked
reason-cert-signature = certificate has a bad signature
reason-cert-invalid = invalid certificate: { $detail }
reason-no-certificate = the server presented no certificate
reason-tls-alert = TLS handshake refused by the server (alert { $alert })
reason-tls-failed = TLS handshake failed: { $detail }
reason-tls-closed = connection closed during the TLS handshake
reason-tls-name = { $host } is not a valid TLS server name
reason-closed-early = connection closed before the response
reason-not-http = the server's answer is not valid HTTP
reason-http-failed = HTTP request failed
reason-body-failed = body read failed
reason-invalid-url = invalid URL { $url }
reason-url-no-host = URL without a host
reason-redirect-unreadable = redirect with an unreadable Location
reason-redirect-invalid = redirect to an invalid URL { $url }
reason-redirect-scheme = redirect to a URL that is not http(s): { $url }
reason-no-address-allowed = { $host }: no address allowed
reason-server-no-address = { $host }: no address
reason-not-dns-name = { $name } is not a DNS name
reason-dns-empty = no { $type } record for { $name } (empty answer)
reason-dns-mismatch = { $name } { $type } is { $answer }, expected { $expected }
reason-nxdomain = NXDOMAIN: { $name } does not exist
reason-servfail = SERVFAIL from { $server }
reason-dns-refused = REFUSED by { $server }
reason-dns-code = { $code } ({ $detail }) from { $server }
reason-at-server = { $detail } ({ $server })
reason-no-dns-server = no DNS server to ask ({ $server })
reason-dns-timeout = timed out after { $duration } waiting for { $server }
reason-dns-failed = DNS lookup failed: { $detail }
reason-resolver-config = cannot read the system resolver configuration: { $detail }
reason-system-resolver = the system resolver

## Cluster mode

site-lost = 📡 Site <b>{ $site }</b> stopped reporting; verdicts count the { $counting } other { $counting ->
    [one] site
   *[other] sites
} until it is back.
site-back = 📡 Site <b>{ $site }</b> reports again; verdicts count it again.
status-sites = sites ({ $need } of { $counted } must agree):
status-site = · { $site }: { $view }
status-site-silent = not reporting
status-site-pending = no verdict yet
status-cluster-unreachable = ⚠️ this node cannot reach the cluster: what it shows may be out of date
err-cluster-unreachable = the cluster is unreachable from this node (NATS); nothing was changed, try again when it is back
err-cluster-conflict = this was changed on another node at the same moment; look again and send the command again
err-sites-alone = sites and quorum are for cluster mode (UPBOT_NATS_URL); this upbot runs alone
err-sites-empty = sites must name at least one site, e.g. sites=fra,sin
err-sites-many = sites names more than { $max } sites
err-quorum-range = quorum must be between 1 and { $most }, got { $quorum }
err-push-sites = push monitors are reported to, not probed: sites and quorum do not apply
warn-site-unknown = no node of site { $site } has reported yet; it counts once it does
