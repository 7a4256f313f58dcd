# The device agent's storage: labels, SHA-256, the upload cache and session directories; and
# what the storage refuses or cleans up (owners, limits, quota, temp files, load paths).
ferry_add_test(agent_storage_test SOURCES agent_storage_test.cc LIBS ferry_agent_storage)
ferry_add_test(agent_storage_limits_test SOURCES agent_storage_limits_test.cc LIBS ferry_agent)
