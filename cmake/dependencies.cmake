# Every external dependency, found in one place. All come from Debian 12
# packages; deploy/setup.sh installs them.
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
# Keyed hashes and sealed records (storage/privacy_keys.h).
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)
# The C API (the Kafka alert sink, and its tests' mock cluster) and the C++
# one.
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka rdkafka++)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
if(BUILD_TESTING)
  find_package(GTest CONFIG REQUIRED)
endif()
if(VIGIE_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()
find_program(VIGIE_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
