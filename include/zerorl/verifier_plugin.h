/* zerorl/verifier_plugin.h: the plain-C ABI of a zerorl verifier plugin (a shared library loaded with
 * dlopen), versioned by ZRL_VERIFIER_PLUGIN_ABI_VERSION. Not here: the loader (zerorl's
 * verifiers/external/plugin.cpp) or any C++ type; a plugin built by any C or C++ compiler loads.
 *
 * A plugin exports one function, by default named "zerorl_verifier_plugin" (YAML key `symbol`):
 *
 *     ZRL_PLUGIN_EXPORT const ZrlVerifierPlugin* zerorl_verifier_plugin(void);
 *
 * returning a pointer to a table that lives as long as the library. zerorl checks abi_version and
 * struct_size before reading anything else, then calls create() once per configured verifier, verify()
 * once per sample (concurrently from several threads unless flags lacks ZRL_PLUGIN_THREAD_SAFE) and
 * destroy() at the end. Strings are UTF-8 and NUL-terminated. */
#ifndef ZERORL_VERIFIER_PLUGIN_H
#define ZERORL_VERIFIER_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the layout or meaning of ZrlVerifierPlugin or ZrlVerifierResult changes. */
#define ZRL_VERIFIER_PLUGIN_ABI_VERSION 1u

/* flags: verify() may run concurrently on the same handle. Without it zerorl serializes the calls. */
#define ZRL_PLUGIN_THREAD_SAFE 1u

#if defined(_WIN32)
#define ZRL_PLUGIN_EXPORT __declspec(dllexport)
#else
#define ZRL_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Filled by verify(). zerorl zero-initializes it before the call. */
typedef struct ZrlVerifierResult {
  double reward;   /* the score; built-in verifiers use [0, 1] */
  int32_t correct; /* 1 when the answer is right, else 0 */
  /* NULL, or a JSON object text allocated by the plugin and released with free_string(). It may hold
   * "status" (a short word such as "no_answer"), "extracted" and "reason", copied into the Verdict. */
  char* info_json;
} ZrlVerifierResult;

typedef struct ZrlVerifierPlugin {
  uint32_t abi_version; /* ZRL_VERIFIER_PLUGIN_ABI_VERSION the plugin was built with; must stay first */
  uint32_t struct_size; /* sizeof(ZrlVerifierPlugin) the plugin was built with */
  uint32_t flags;       /* ZRL_PLUGIN_THREAD_SAFE or 0 */
  const char* name;     /* a short name for logs, e.g. "numeric_tolerance" */

  /* Builds a verifier from its YAML options (a JSON object text). Returns NULL on bad options and sets
   * *error to a message allocated by the plugin (released with free_string), or leaves it NULL. */
  void* (*create)(const char* options_json, char** error);
  void (*destroy)(void* handle);

  /* Checks one sample. Returns 0 on success; any other value makes the verdict's status "error" (with
   * out->info_json, if set, as details). Must not crash or throw for any response text. */
  int32_t (*verify)(void* handle, const char* prompt, const char* gold, const char* response,
                    const char* extra_json, ZrlVerifierResult* out);

  /* Releases strings the plugin handed out (info_json, create's error). */
  void (*free_string)(char* text);
} ZrlVerifierPlugin;

/* The type of the exported entry function. */
typedef const ZrlVerifierPlugin* (*ZrlVerifierPluginEntry)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ZERORL_VERIFIER_PLUGIN_H */
