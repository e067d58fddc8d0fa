// /readyz of the real binary while it replays a long ingest log after a
// SIGKILL: 503 "loading" for as long as the replay runs, then 200, while
// /healthz answers throughout (so that Kubernetes waits instead of
// restarting the pod).

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

// A loopback port free now (the kernel's pick, released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(ReadinessTest, NotReadyWhileTheIngestLogReplays) {
  testutil::TempDir dir;
  // No checkpoint absorbs the log: a restart replays all of it.
  const std::string config = dir.Join("vigie.yaml");
  std::ofstream(config) << "checkpoint_interval: 1h\ncheckpoint_bytes: 4GiB\n";
  const std::string data = dir.Join("state");
  const std::string log = dir.Join("server.log");
  {
    ASSERT_OK_AND_ASSIGN(
        testutil::ServerProcess server,
        testutil::ServerProcess::Start(VIGIE_SERVER_BINARY, data, log,
                                       {"--config=" + config}));
    ASSERT_OK_AND_ASSIGN(auto client,
                         tools::VigieClient::Connect(server.address()));
    tools::SimulatorOptions options;
    options.num_predictions = 100'000;
    ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
    std::vector<v1::Event> events;
    tools::EventRecord record;
    while (simulator->Next(&record)) {
      for (v1::Event& event : record.events) events.push_back(std::move(event));
    }
    testutil::VectorSource source(std::move(events));
    ASSERT_OK(client->StreamEvents(source, {}).status());
    server.Signal(SIGKILL);
    server.Wait();
  }

  const int port = FreePort();
  // Kept until the end: destroying it kills the process.
  std::optional<absl::StatusOr<testutil::ServerProcess>> restarted;
  std::thread starter([&] {
    // Returns once the replay is done and gRPC serves.
    restarted = testutil::ServerProcess::Start(
        VIGIE_SERVER_BINARY, data, log,
        {"--config=" + config,
         absl::StrCat("--http_address=127.0.0.1:", port)});
  });
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(0, 100'000);
  bool loading_seen = false;
  bool alive_while_loading = false;
  bool ready_seen = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline && !ready_seen) {
    if (httplib::Result readyz = http.Get("/readyz"); readyz) {
      if (readyz->status == 503 &&
          readyz->body.find("loading the state") != std::string::npos) {
        loading_seen = true;
        httplib::Result healthz = http.Get("/healthz");
        alive_while_loading =
            alive_while_loading || (healthz && healthz->status == 200);
      }
      ready_seen = readyz->status == 200;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  starter.join();
  ASSERT_TRUE(restarted.has_value());
  EXPECT_OK(restarted->status());
  EXPECT_TRUE(loading_seen);
  EXPECT_TRUE(alive_while_loading);
  EXPECT_TRUE(ready_seen);
}

}  // namespace
}  // namespace vigie
