/* bus_redis_scripts.h — the Lua scripts bus_redis runs in Redis. */
#ifndef CHATD_BUS_REDIS_SCRIPTS_H
#define CHATD_BUS_REDIS_SCRIPTS_H

/* KEYS[1] stream; ARGV: maxlen, channel, topic, node, ts, payload — append
 * the event to the bounded stream and publish it to other nodes'
 * subscribers.  Returns the entry id. */
#define BR_LUA_EVENT                                                              \
	"local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',\n"     \
	"  'topic', ARGV[3], 'node', ARGV[4], 'ts', ARGV[5], 'payload', ARGV[6])\n" \
	"redis.call('PUBLISH', ARGV[2], ARGV[6])\n"                                  \
	"return id\n"

/* ARGV: prefix, n, keys[n], deltas[n], ttl_ms[n] → totals[n].  A counter
 * gets its lifetime when created (no expiry yet), never extended. */
#define BR_LUA_COUNTERS                                                           \
	"local p, n, out = ARGV[1], tonumber(ARGV[2]), {}\n"                        \
	"for i = 1, n do\n"                                                        \
	"  local k = p .. 'ctr:' .. ARGV[2 + i]\n"                                 \
	"  local v = redis.call('INCRBY', k, ARGV[2 + n + i])\n"                    \
	"  local ttl = tonumber(ARGV[2 + 2 * n + i])\n"                             \
	"  if ttl > 0 and redis.call('PTTL', k) == -1 then redis.call('PEXPIRE', k, ttl) end\n" \
	"  out[i] = v\n"                                                           \
	"end\n"                                                                    \
	"return out\n"

#endif
