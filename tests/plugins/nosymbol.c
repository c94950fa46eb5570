/* A shared object that is not a chatd plugin (no chatd_plugin_describe). */
int chatd_test_not_a_plugin(void);
int chatd_test_not_a_plugin(void) { return 42; }
