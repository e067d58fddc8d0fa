// The Helm chart (helm/vigie), linted and rendered by the real helm binary
// (tools/fetch_helm.sh), its manifests parsed and checked, and the Vigie
// configuration it renders loaded by Vigie's own configuration reader.

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

const std::string kChart = std::string(VIGIE_SOURCE_DIR) + "/helm/vigie";
const std::string kKafkaValues = kChart + "/ci/kafka-values.yaml";

std::string Helm() {
  const char* env = getenv("VIGIE_HELM");
  return env != nullptr ? env
                        : std::string(VIGIE_SOURCE_DIR) + "/.cache/helm/helm";
}

// Runs `command`; its exit code, and its standard output and error.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  output->clear();
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output->append(buffer, n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class HelmChartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(Helm().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "no helm at " << Helm()
                   << ": run tools/fetch_helm.sh (tools/check.sh does)";
    }
  }

  // The manifests `helm template` renders with `flags`, by kind (in order).
  std::multimap<std::string, YAML::Node> Render(const std::string& flags) {
    std::string out;
    const int code = RunCommand(
        absl::StrCat(Helm(), " template t ", kChart, " ", flags), &out);
    EXPECT_EQ(code, 0) << out;
    std::multimap<std::string, YAML::Node> manifests;
    for (const YAML::Node& doc : YAML::LoadAll(out)) {
      if (!doc.IsMap()) continue;
      manifests.emplace(doc["kind"].as<std::string>(), doc);
    }
    return manifests;
  }

  // The ConfigMap's vigie.yaml (and policy.yaml) written to a folder, with
  // the policy's path made that folder's, and loaded as Vigie would.
  absl::StatusOr<services::ServerConfig> LoadRendered(
      const YAML::Node& config_map) {
    const YAML::Node data = config_map["data"];
    std::string vigie = data["vigie.yaml"].as<std::string>();
    if (data["policy.yaml"]) {
      std::ofstream(dir_.Join("policy.yaml"))
          << data["policy.yaml"].as<std::string>();
      vigie = absl::StrReplaceAll(
          vigie, {{"/etc/vigie/policy.yaml", dir_.Join("policy.yaml")}});
    }
    std::ofstream(dir_.Join("vigie.yaml")) << vigie;
    return services::LoadServerConfig(dir_.Join("vigie.yaml"));
  }

  testutil::TempDir dir_;
};

TEST_F(HelmChartTest, LintsStrictlyWithBothValueSets) {
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat(Helm(), " lint --strict ", kChart), &out),
            0)
      << out;
  EXPECT_EQ(RunCommand(absl::StrCat(Helm(), " lint --strict ", kChart, " -f ",
                                    kKafkaValues),
                       &out),
            0)
      << out;
}

TEST_F(HelmChartTest, DefaultValuesRenderOneDurablePod) {
  const auto manifests = Render("");
  std::multiset<std::string> kinds;
  for (const auto& [kind, doc] : manifests) kinds.insert(kind);
  EXPECT_EQ(kinds, (std::multiset<std::string>{
                       "ConfigMap", "PodDisruptionBudget", "Secret", "Service",
                       "Service", "StatefulSet"}));
  // The privacy secret the chart makes: 64 random characters, kept on
  // uninstall.
  const YAML::Node secret = manifests.find("Secret")->second;
  EXPECT_EQ(secret["metadata"]["name"].as<std::string>(), "t-vigie-privacy");
  EXPECT_EQ(secret["metadata"]["annotations"]["helm.sh/resource-policy"]
                .as<std::string>(),
            "keep");
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(secret["data"]["secret"].as<std::string>(),
                                   &decoded));
  EXPECT_EQ(decoded.size(), 64u);

  const YAML::Node set = manifests.find("StatefulSet")->second;
  const YAML::Node spec = set["spec"];
  EXPECT_EQ(spec["replicas"].as<int>(), 1);
  EXPECT_EQ(spec["serviceName"].as<std::string>(), "t-vigie-headless");
  const YAML::Node pod = spec["template"]["spec"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  const YAML::Node container = pod["containers"][0];
  EXPECT_TRUE(
      container["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(
      container["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(),
            "/healthz");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(),
            "/readyz");
  // The pod outlives Vigie's own drain.
  std::string grace;
  for (const YAML::Node& arg : container["args"]) {
    const std::string a = arg.as<std::string>();
    if (a.rfind("--shutdown_grace_seconds=", 0) == 0) grace = a.substr(25);
  }
  ASSERT_FALSE(grace.empty());
  EXPECT_GT(pod["terminationGracePeriodSeconds"].as<int>(), std::stoi(grace));
  EXPECT_EQ(spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]
                ["storage"]
                    .as<std::string>(),
            "10Gi");
  EXPECT_TRUE(spec["template"]["metadata"]["annotations"]["checksum/config"]
                  .IsScalar());

  absl::StatusOr<services::ServerConfig> config =
      LoadRendered(manifests.find("ConfigMap")->second);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/var/lib/vigie");
  EXPECT_EQ(config->grpc_address, "0.0.0.0:50051");
  EXPECT_EQ(config->http_address, "0.0.0.0:9464");
  // The alerts' report links: the Service's address, the release's
  // namespace as helm template gives it ("default").
  EXPECT_EQ(config->external_url, "http://t-vigie.default.svc:9464");
  EXPECT_EQ(config->log.format, "json");
  EXPECT_FALSE(config->kafka_ingest.enabled());
  EXPECT_EQ(config->privacy.secret_file, "/etc/vigie/privacy/secret");
  bool privacy_volume = false;
  for (const YAML::Node& volume : pod["volumes"]) {
    privacy_volume =
        privacy_volume ||
        (volume["secret"] &&
         volume["secret"]["secretName"].as<std::string>() == "t-vigie-privacy");
  }
  EXPECT_TRUE(privacy_volume);
}

TEST_F(HelmChartTest, KafkaValuesRenderReplicasMonitoringAndTheirPolicy) {
  const auto manifests = Render(absl::StrCat("-f ", kKafkaValues));
  EXPECT_EQ(manifests.count("ServiceMonitor"), 1u);
  EXPECT_EQ(manifests.count("PrometheusRule"), 1u);
  const YAML::Node monitor = manifests.find("ServiceMonitor")->second;
  EXPECT_EQ(monitor["spec"]["endpoints"][0]["path"].as<std::string>(),
            "/metrics");
  EXPECT_EQ(monitor["metadata"]["labels"]["release"].as<std::string>(),
            "prometheus");
  const YAML::Node set = manifests.find("StatefulSet")->second;
  EXPECT_EQ(set["spec"]["replicas"].as<int>(), 2);
  // TLS: the Secret mounted, the probes and the scrape over HTTPS.
  const YAML::Node pod = set["spec"]["template"]["spec"];
  bool tls_volume = false;
  for (const YAML::Node& volume : pod["volumes"]) {
    tls_volume =
        tls_volume ||
        (volume["secret"] &&
         volume["secret"]["secretName"].as<std::string>() == "vigie-tls");
  }
  EXPECT_TRUE(tls_volume);
  EXPECT_EQ(pod["containers"][0]["readinessProbe"]["httpGet"]["scheme"]
                .as<std::string>(),
            "HTTPS");
  EXPECT_EQ(monitor["spec"]["endpoints"][0]["scheme"].as<std::string>(),
            "https");

  absl::StatusOr<services::ServerConfig> config =
      LoadRendered(manifests.find("ConfigMap")->second);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka_ingest.brokers,
            "kafka-0.kafka:9092,kafka-1.kafka:9092");
  EXPECT_EQ(config->kafka_ingest.group_id, "vigie-prod");
  ASSERT_EQ(config->kafka_ingest.topics.size(), 2u);
  EXPECT_EQ(config->kafka_ingest.topics[1].format,
            services::PayloadFormat::kJson);
  EXPECT_EQ(config->kafka_ingest.panes_topic, "vigie-panes");
  EXPECT_EQ(config->tls.cert_file, "/etc/vigie/tls/tls.crt");
  EXPECT_EQ(config->tls.key_file, "/etc/vigie/tls/tls.key");
  EXPECT_EQ(config->bearer_token_file, "/etc/vigie/auth/token");
  // The operator's privacy secret: the chart makes none.
  EXPECT_EQ(manifests.count("Secret"), 0u);
  EXPECT_EQ(config->privacy.secret_file, "/etc/vigie/privacy/secret");
  // The operator's one-rule policy, not the embedded one.
  ASSERT_EQ(config->policy.rules.size(), 1u);
  EXPECT_EQ(config->policy.rules[0].id, "F1");
  ASSERT_EQ(config->models.size(), 1u);
  EXPECT_EQ(config->models[0].label_delay, absl::Hours(72));
}

TEST_F(HelmChartTest, SeveralReplicasWithoutKafkaAreRefused) {
  std::string out;
  EXPECT_NE(RunCommand(absl::StrCat(Helm(), " template t ", kChart,
                                    " --set replicaCount=2"),
                       &out),
            0);
  EXPECT_NE(out.find("replicaCount > 1 needs kafka.enabled"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace vigie
