from support.fixtures import adb_env, frida_server_file, host_adb, make_sim, mitm_ca  # noqa: F401
