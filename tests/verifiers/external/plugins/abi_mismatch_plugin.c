/* tests/verifiers/external/plugins/abi_mismatch_plugin.c: a plugin in plain C (so the ABI header is
 * checked to compile as C) that claims a future ABI version; zerorl must refuse it at load.
 * Not here: a working verifier. */
#include <stddef.h>
#include <zerorl/verifier_plugin.h>

static void* create(const char* options_json, char** error) {
  (void)options_json;
  (void)error;
  return NULL;
}
static void destroy(void* handle) { (void)handle; }
static int32_t verify(void* handle, const char* prompt, const char* gold, const char* response,
                      const char* extra_json, ZrlVerifierResult* out) {
  (void)handle, (void)prompt, (void)gold, (void)response, (void)extra_json, (void)out;
  return 1;
}

static const ZrlVerifierPlugin kTable = {ZRL_VERIFIER_PLUGIN_ABI_VERSION + 1u,
                                         sizeof(ZrlVerifierPlugin),
                                         0,
                                         "future",
                                         create,
                                         destroy,
                                         verify,
                                         NULL};

ZRL_PLUGIN_EXPORT const ZrlVerifierPlugin* zerorl_verifier_plugin(void) { return &kTable; }
