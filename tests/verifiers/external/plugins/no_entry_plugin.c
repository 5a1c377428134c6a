/* tests/verifiers/external/plugins/no_entry_plugin.c: a shared library without the plugin entry point;
 * zerorl must name the missing symbol. Not here: anything else. */
int zerorl_not_the_entry(void) { return 42; }
