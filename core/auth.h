/* auth.h — JWT verification and minting (libjwt 1.10).
 *
 * libjwt 1.10 verifies with whatever algorithm the token's header names and
 * never checks exp: this module pins the configured algorithm, never passes
 * a NULL key, and checks exp/sub itself.  A verifier is immutable after
 * creation and may be used from any thread. */
#ifndef CHATD_AUTH_H
#define CHATD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_USER_MAX 64

enum auth_result {
	AUTH_OK = 0,
	AUTH_MALFORMED = 1,     /* not a JWT, undecodable, or bad signature */
	AUTH_BAD_ALG = 2,       /* alg none or not the configured one */
	AUTH_EXPIRED = 3,       /* exp + leeway <= now */
	AUTH_MISSING_EXP = 4,
	AUTH_BAD_SUB = 5,       /* missing, or not 1..64 of [A-Za-z0-9._@-] */
};

struct auth_claims {
	char sub[AUTH_USER_MAX + 1];
	int64_t exp;            /* seconds since the epoch */
	int64_t iat;            /* 0 if absent */
	char name[129];         /* "" if absent; truncated */
	char jti[129];          /* "" if absent */
	bool role_admin;
	bool role_moderator;
};

struct auth_verifier;

/* alg: "HS256" | "RS256" | "ES256".  key: the HS256 secret, or the PEM text
 * of the public key.  Returns CHATD_OK or CHATD_ERR_INVALID with a reason in
 * err. */
int auth_verifier_new(const char *alg, const char *key, size_t keylen, int64_t leeway_s,
		      struct auth_verifier **out, char *err, size_t errlen);
void auth_verifier_free(struct auth_verifier *v);

/* A verifier for the config's auth section (reads the public key file for
 * RS256/ES256).  Returns CHATD_OK or a status with the reason in err. */
struct chatd_config;
int auth_verifier_from_config(const struct chatd_config *cfg, struct auth_verifier **out,
			      char *err, size_t errlen);

/* Verify `token` at time now_s (seconds).  Fills *claims on AUTH_OK. */
enum auth_result auth_verify(const struct auth_verifier *v, const char *token,
			     int64_t now_s, struct auth_claims *claims);
/* Is exp still valid at now_s with the verifier's leeway? */
bool auth_exp_ok(const struct auth_verifier *v, int64_t exp, int64_t now_s);
const char *auth_result_str(enum auth_result r);

/* Is s a valid user id (1..64 of [A-Za-z0-9._@-])? */
bool auth_user_id_valid(const char *s);

/* Mint a token: alg "HS256" with the secret, or RS256/ES256 with a PEM
 * private key.  roles: NULL-terminated array or NULL.  *out is malloc'd
 * (caller frees).  Returns CHATD_OK or a negative status. */
int auth_mint(const char *alg, const char *key, size_t keylen, const char *sub,
	      int64_t now_s, int64_t ttl_s, const char *const *roles, char **out);

#endif
