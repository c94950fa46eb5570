/* config_enc.c — encryption.keys: the key ring of encryption at rest.
 *
 *   encryption = {
 *     keys = { k1 = os.getenv("CHATD_KEY_K1"), k2 = "env:CHATD_KEY_K2" },
 *     active = "k2",
 *   }
 *
 * Each value is 64 hex digits, base64 of 32 bytes, or "env:NAME".  Errors
 * name the key id and what is wrong, never the key. */
#include "config.h"
#include "config_priv.h"

#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include <openssl/crypto.h>

#define ENC_KEYS_MAX 64

void cfg_enc_free(struct enc_keyring *kr)
{
	if (kr->keys)
		OPENSSL_cleanse(kr->keys, kr->n * sizeof *kr->keys);
	free(kr->keys);
	memset(kr, 0, sizeof *kr);
}

void cfg_read_enc_keys(lua_State *L, int idx, struct chatd_config *cfg, struct cfg_ctx *c,
		       int line)
{
	const char *path = "encryption.keys";
	if (cfg->enc.keys) {
		cfg_ctx_err(c, line, path, "given twice");
		return;
	}
	if (!lua_istable(L, idx)) {
		cfg_ctx_err(c, line, path, "expected a table of key id = key, got %s",
			    luaL_typename(L, idx));
		return;
	}
	cfg->enc.keys = calloc(ENC_KEYS_MAX, sizeof *cfg->enc.keys);
	if (!cfg->enc.keys) {
		c->nomem = true;
		return;
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t kl = 0;
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
		if (!k || !enc_key_id_ok(k, kl)) {
			cfg_ctx_err(c, line, path, "a key id must be 1 to %d of [A-Za-z0-9_-]",
				    ENC_KEY_ID_MAX);
		} else if (lua_type(L, -1) != LUA_TSTRING) {
			cfg_ctx_err(c, line, path, "%s: expected a string, got %s", k,
				    luaL_typename(L, -1));
		} else if (cfg->enc.n >= ENC_KEYS_MAX) {
			cfg_ctx_err(c, line, path, "more than %d keys", ENC_KEYS_MAX);
		} else {
			struct enc_key *e = &cfg->enc.keys[cfg->enc.n];
			char why[96];
			if (enc_key_parse(lua_tostring(L, -1), e->key, why, sizeof why)) {
				memcpy(e->id, k, kl);
				e->id[kl] = '\0';
				cfg->enc.n++;
			} else {
				OPENSSL_cleanse(e->key, sizeof e->key);
				cfg_ctx_err(c, line, path, "%s: %s", k, why);
			}
		}
		lua_pop(L, 1);
	}
}
