// SIGHUP reloads the policy of the real `vigie` binary: a valid policy is in
// force at once, a broken one is refused with its line and the running one
// stays.

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/client.h"
#include "tools/simulator.h"

namespace vigie {
namespace {

using ::testing::HasSubstr;

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Demographic parity by sex, warning above `warning`.
std::string Policy(const std::string& warning) {
  return absl::StrCat(
      "evaluation_interval: 100ms\n"
      "rules:\n"
      "  - id: T1\n"
      "    metric: demographic_parity_difference\n"
      "    comparison: above\n"
      "    attributes: [sex]\n"
      "    warning: {value: ",
      warning,
      "}\n"
      "    element: Q2.4/2.4.d\n");
}

TEST(PolicyReloadTest, SighupPutsANewPolicyInForceAndRefusesABrokenOne) {
  testutil::TempDir dir;
  Write(dir.Join("policy.yaml"), Policy("0.9"));
  Write(dir.Join("vigie.yaml"), "policy_file: policy.yaml\n");
  const std::string log = dir.Join("server.log");
  ASSERT_OK_AND_ASSIGN(
      testutil::ServerProcess server,
      testutil::ServerProcess::Start(
          VIGIE_SERVER_BINARY, dir.Join("state"), log,
          {absl::StrCat("--config=", dir.Join("vigie.yaml"))}));
  ASSERT_OK_AND_ASSIGN(auto client,
                       tools::VigieClient::Connect(server.address()));

  // 2,000 predictions with a strong bias against one sex: a gap far above
  // 0.05, but not above 0.9.
  tools::SimulatorOptions options;
  options.num_predictions = 2000;
  options.bias = 0.3;
  options.seed = 7;
  ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
  ASSERT_OK(client->StreamEvents(*simulator, {}).status());
  ASSERT_OK_AND_ASSIGN(v1::ListAlertsReply alerts, client->ListAlerts({}));
  EXPECT_EQ(alerts.alerts_size(), 0);

  // Polls the alerts until `count` are listed (10 s).
  auto wait_for = [&](int count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    v1::ListAlertsReply listed;
    do {
      auto reply = client->ListAlerts({});
      if (reply.ok()) listed = *reply;
      if (listed.alerts_size() == count) break;
      absl::SleepFor(absl::Milliseconds(50));
    } while (absl::Now() < deadline);
    return listed;
  };

  // Warning above 0.05: the reload evaluates at once, without new events.
  Write(dir.Join("policy.yaml"), Policy("0.05"));
  server.Signal(SIGHUP);
  alerts = wait_for(1);
  ASSERT_EQ(alerts.alerts_size(), 1);
  EXPECT_EQ(alerts.alerts(0).rule_id(), "T1");
  EXPECT_EQ(alerts.alerts(0).state(), v1::ALERT_STATE_FIRING);
  EXPECT_DOUBLE_EQ(alerts.alerts(0).threshold(), 0.05);

  // A typo on line 8: refused, said with its line, and T1 still fires.
  Write(dir.Join("policy.yaml"), Policy("0.05") + "    fore: 3\n");
  server.Signal(SIGHUP);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Read(log).find("policy not reloaded") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(Read(log), HasSubstr("policy not reloaded, the previous one "
                                   "stays"));
  EXPECT_THAT(Read(log), HasSubstr("policy.yaml:9:5"));
  EXPECT_THAT(Read(log), HasSubstr("fore"));
  alerts = wait_for(1);
  ASSERT_EQ(alerts.alerts_size(), 1);
  EXPECT_EQ(alerts.alerts(0).state(), v1::ALERT_STATE_FIRING);

  // The rule removed: its alert resolves.
  Write(dir.Join("policy.yaml"), "rules: []\n");
  server.Signal(SIGHUP);
  alerts = wait_for(0);
  EXPECT_EQ(alerts.alerts_size(), 0);

  server.Signal(SIGTERM);
  const int status = server.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace vigie
