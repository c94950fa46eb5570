/* presence_scripts.h — the Lua scripts presence_redis runs in Redis (each
 * one atomic).  Keys, under the configured prefix P:
 *   P pu:<user>   sorted set: member = node id, score = expiry (ms since
 *                 the epoch); the user is online while a member's expiry
 *                 is in the future.  The key itself expires 2 ttl after
 *                 its last refresh.
 *   P pn:<node>   set: the users with an entry of that node (drain, sweep)
 *   P pnodes      sorted set: member = node id, score = expiry (liveness)
 *   P pls:<user>  when the user was last seen (ms), kept 30 days
 * Channel P presence: "1 <user>" (online somewhere, was nowhere) and
 * "0 <user> <last_seen>" (nowhere any more). */
#ifndef CHATD_PRESENCE_SCRIPTS_H
#define CHATD_PRESENCE_SCRIPTS_H

/* Shared: remove node's entry of user u; publish offline when it was the
 * last live one. */
#define PR_LUA_DROP                                                               \
	"local function drop(p, node, u, now, ls)\n"                              \
	"  local k = p .. 'pu:' .. u\n"                                           \
	"  local had = redis.call('ZREM', k, node)\n"                             \
	"  redis.call('SREM', p .. 'pn:' .. node, u)\n"                           \
	"  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. now)\n"              \
	"  if had == 1 and redis.call('ZCARD', k) == 0 then\n"                    \
	"    redis.call('SET', p .. 'pls:' .. u, ls, 'PX', 2592000000)\n"          \
	"    redis.call('PUBLISH', p .. 'presence', '0 ' .. u .. ' ' .. ls)\n"     \
	"    return 0\n"                                                          \
	"  end\n"                                                                 \
	"  return 1\n"                                                            \
	"end\n"

/* ARGV: prefix, node, now, expiry, ttl, users... — add or refresh node's
 * entry of every user; refresh the node's liveness. */
#define PR_LUA_UP                                                                 \
	"local p, node, now, exp, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n" \
	"redis.call('ZADD', p .. 'pnodes', exp, node)\n"                            \
	"for i = 6, #ARGV do\n"                                                    \
	"  local u = ARGV[i]\n"                                                    \
	"  local k = p .. 'pu:' .. u\n"                                            \
	"  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. now)\n"               \
	"  local before = redis.call('ZCARD', k)\n"                                \
	"  redis.call('ZADD', k, exp, node)\n"                                     \
	"  redis.call('PEXPIRE', k, 2 * tonumber(ttl))\n"                          \
	"  redis.call('SADD', p .. 'pn:' .. node, u)\n"                            \
	"  if before == 0 then redis.call('PUBLISH', p .. 'presence', '1 ' .. u) end\n" \
	"end\n"                                                                    \
	"return 1\n"

/* ARGV: prefix, node, now, last_seen, user */
#define PR_LUA_DOWN PR_LUA_DROP "return drop(ARGV[1], ARGV[2], ARGV[5], ARGV[3], ARGV[4])\n"

/* ARGV: prefix, now, users... → per user, the nodes with a live entry. */
#define PR_LUA_LOCATE                                                             \
	"local p, now, out = ARGV[1], ARGV[2], {}\n"                                \
	"for i = 3, #ARGV do\n"                                                    \
	"  out[#out + 1] = redis.call('ZRANGEBYSCORE', p .. 'pu:' .. ARGV[i], now, '+inf')\n" \
	"end\n"                                                                    \
	"return out\n"

/* ARGV: prefix, now, user → {live entries, last_seen or false} */
#define PR_LUA_QUERY                                                              \
	"local p, now, u = ARGV[1], ARGV[2], ARGV[3]\n"                             \
	"return {redis.call('ZCOUNT', p .. 'pu:' .. u, now, '+inf'),\n"              \
	"        redis.call('GET', p .. 'pls:' .. u)}\n"

/* ARGV: prefix, now, node-or-empty — with a node: that node leaves (drain);
 * empty: every node whose liveness expired is removed (at most 10 per run),
 * its users offline where it was their last node. */
#define PR_LUA_LEAVE PR_LUA_DROP                                                  \
	"local p, now, node = ARGV[1], ARGV[2], ARGV[3]\n"                          \
	"local nodes = {node}\n"                                                   \
	"if node == '' then\n"                                                     \
	"  nodes = redis.call('ZRANGEBYSCORE', p .. 'pnodes', '-inf', '(' .. now, 'LIMIT', 0, 10)\n" \
	"end\n"                                                                    \
	"local n = 0\n"                                                            \
	"for _, nd in ipairs(nodes) do\n"                                          \
	"  for _, u in ipairs(redis.call('SMEMBERS', p .. 'pn:' .. nd)) do\n"      \
	"    drop(p, nd, u, now, now)\n"                                          \
	"    n = n + 1\n"                                                          \
	"  end\n"                                                                  \
	"  redis.call('DEL', p .. 'pn:' .. nd)\n"                                  \
	"  redis.call('ZREM', p .. 'pnodes', nd)\n"                                \
	"end\n"                                                                    \
	"return n\n"

#endif
