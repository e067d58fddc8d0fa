#include "services/config.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/policy.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::services {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

const std::string kConfigPath = VIGIE_SOURCE_DIR "/deploy/vigie.yaml";
const std::string kPolicyPath = VIGIE_SOURCE_DIR "/deploy/policy.yaml";

// The message of a failed parse (fails the test on success).
template <typename T>
std::string ErrorOf(
    const absl::StatusOr<T>& result,
    absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  EXPECT_EQ(result.status().code(), code) << result.status();
  return std::string(result.status().message());
}

const rules::Rule* FindRule(const rules::Policy& policy,
                            const std::string& id) {
  for (const rules::Rule& rule : policy.rules) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

TEST(ConfigTest, ShippedPolicyParses) {
  ASSERT_OK_AND_ASSIGN(rules::Policy policy,
                       ParsePolicy(ReadText(kPolicyPath), kPolicyPath));
  EXPECT_EQ(policy.referential, "labelia-dsrc@v202301");
  EXPECT_EQ(policy.evaluation_interval, absl::Minutes(1));
  ASSERT_THAT(policy.rules, SizeIs(18));

  // D1-D4 as REFERENTIAL.md gives them: thresholds, minimum samples,
  // citations.
  const rules::Rule* d1 = FindRule(policy, "D1");
  ASSERT_NE(d1, nullptr);
  EXPECT_EQ(d1->metric, rules::kPopulationStabilityIndex);
  EXPECT_EQ(d1->warning->value, 0.10);
  EXPECT_EQ(d1->critical->value, 0.25);
  EXPECT_EQ(d1->min_current_values, 500u);
  EXPECT_EQ(d1->min_reference_values, 1000u);
  EXPECT_EQ(d1->element, "Q3.5/3.5.d");
  EXPECT_THAT(d1->ai_act_articles, ElementsAre("Art. 15", "Art. 72"));
  const rules::Rule* d2 = FindRule(policy, "D2");
  ASSERT_NE(d2, nullptr);
  EXPECT_EQ(d2->metric, rules::kFeatureDrift);
  EXPECT_EQ(d2->warning->max_p_value, 0.05);
  EXPECT_THAT(d2->features, ElementsAre("@prediction"));
  EXPECT_EQ(d2->for_evaluations, 3u);
  EXPECT_FALSE(d2->critical.has_value());
  const rules::Rule* d3 = FindRule(policy, "D3");
  ASSERT_NE(d3, nullptr);
  EXPECT_EQ(d3->warning->value, 0.25);
  EXPECT_EQ(d3->critical->value, 0.50);
  const rules::Rule* d4 = FindRule(policy, "D4");
  ASSERT_NE(d4, nullptr);
  // REFERENTIAL.md D4: a change warns, a change sustained over 3 windows
  // is critical, with the runbook of the other critical levels.
  EXPECT_EQ(d4->metric, rules::kErrorChangeWindows);
  EXPECT_EQ(d4->window, absl::Hours(24));
  EXPECT_EQ(d4->warning->value, 1);   // The window of the change.
  EXPECT_EQ(d4->critical->value, 3);  // Sustained over 3 windows.
  EXPECT_EQ(d4->min_current_values, 100u);
  EXPECT_EQ(d4->element, "Q3.5/3.5.d");
  EXPECT_THAT(d4->ai_act_articles, ElementsAre("Art. 15"));
  EXPECT_THAT(d4->runbook, HasSubstr("Q5.1/5.1.f"));
  EXPECT_THAT(d4->runbook, HasSubstr("degraded"));

  const rules::Rule* o2 = FindRule(policy, "O2");
  ASSERT_NE(o2, nullptr);
  EXPECT_EQ(o2->metric, rules::kMissedWindows);
  EXPECT_EQ(o2->warning->value, 0);   // The first missed window.
  EXPECT_EQ(o2->critical->value, 2);  // The third.
  EXPECT_EQ(o2->element, "Q5.1/5.1.e");
  EXPECT_THAT(o2->ai_act_articles, ElementsAre("Art. 72"));

  const rules::Rule* f1 = FindRule(policy, "F1");
  ASSERT_NE(f1, nullptr);
  EXPECT_EQ(f1->metric, rules::kDemographicParityRatio);
  EXPECT_EQ(f1->comparison, rules::Comparison::kBelow);
  EXPECT_EQ(f1->warning->value, 0.90);
  EXPECT_EQ(f1->warning->max_p_value, 0.05);
  EXPECT_EQ(f1->critical->value, 0.80);
  EXPECT_EQ(f1->critical->max_p_value, 0.01);
  EXPECT_EQ(f1->min_predictions_per_group, 500u);
  EXPECT_EQ(f1->min_selected_in_reference_group, 50u);
  EXPECT_EQ(f1->element, "Q2.4/2.4.c");
  EXPECT_THAT(f1->related_elements, ElementsAre("Q2.4/2.4.d"));
  EXPECT_THAT(f1->ai_act_articles, ElementsAre("Art. 10"));
  EXPECT_THAT(f1->threshold_source, HasSubstr("29 CFR 1607.4(D)"));
  EXPECT_EQ(f1->window, absl::ZeroDuration());

  const rules::Rule* f2 = FindRule(policy, "F2");
  ASSERT_NE(f2, nullptr);
  EXPECT_EQ(f2->metric, rules::kDemographicParityDifference);
  EXPECT_EQ(f2->comparison, rules::Comparison::kAbove);
  EXPECT_EQ(f2->warning->min_interval_lower, 0.0);
  EXPECT_EQ(f2->critical->value, 0.10);
  EXPECT_EQ(f2->critical->min_interval_lower, 0.05);
  EXPECT_EQ(f2->min_predictions_per_group, 500u);

  const rules::Rule* c1 = FindRule(policy, "C1");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->metric, rules::kExpectedCalibrationError);
  EXPECT_EQ(c1->baseline, 0.0);
  EXPECT_EQ(c1->min_labelled, 2000u);
  EXPECT_EQ(c1->warning->value, 0.02);
  EXPECT_EQ(c1->warning->min_null_quantile, 0.95);
  EXPECT_EQ(c1->critical->value, 0.05);
  EXPECT_EQ(c1->critical->min_null_quantile, 0.99);
  EXPECT_EQ(c1->element, "Q5.4/5.4.c");

  const rules::Rule* f3 = FindRule(policy, "F3");
  ASSERT_NE(f3, nullptr);
  EXPECT_EQ(f3->metric, rules::kEqualizedOddsDifference);
  EXPECT_EQ(f3->confidence, 0.95);
  EXPECT_EQ(f3->warning->value, 0.05);
  EXPECT_EQ(f3->warning->max_p_value, 0.05);
  EXPECT_EQ(f3->critical->min_interval_lower, 0.05);
  EXPECT_EQ(f3->min_positives_per_group, 300u);
  EXPECT_EQ(f3->min_negatives_per_group, 300u);
  EXPECT_THAT(f3->related_elements, ElementsAre("Q2.5"));
  EXPECT_THAT(f3->ai_act_articles, ElementsAre("Art. 10", "Art. 15"));
  EXPECT_THAT(f3->runbook, AllOf(HasSubstr("Q5.1/5.1.f"), HasSubstr("5.1.c")));

  // K1-K3 and R1-R3 as REFERENTIAL.md gives them.
  const rules::Rule* k1 = FindRule(policy, "K1");
  ASSERT_NE(k1, nullptr);
  EXPECT_EQ(k1->metric, rules::kConformalCoverage);
  EXPECT_EQ(k1->comparison, rules::Comparison::kBelow);
  EXPECT_EQ(k1->warning->max_p_value, 0.05);  // The law's 5% quantile.
  EXPECT_FALSE(k1->warning->min_shortfall.has_value());
  EXPECT_EQ(k1->critical->max_p_value, 0.001);   // Its 0.1% quantile,
  EXPECT_EQ(k1->critical->min_shortfall, 0.05);  // or < 1 - alpha - 0.05.
  EXPECT_EQ(k1->min_labelled, 500u);
  EXPECT_EQ(k1->element, "Q5.4/5.4.c");
  EXPECT_THAT(k1->related_elements, ElementsAre("Q5.3/5.3.d", "Q3.5"));
  EXPECT_THAT(k1->ai_act_articles, ElementsAre("Art. 15"));
  const rules::Rule* k2 = FindRule(policy, "K2");
  ASSERT_NE(k2, nullptr);
  EXPECT_EQ(k2->metric, rules::kConformalSizeChange);
  EXPECT_TRUE(k2->baseline_from_reference);
  EXPECT_EQ(k2->warning->value, 0.25);
  EXPECT_EQ(k2->critical->value, 0.50);
  EXPECT_EQ(k2->min_labelled, 500u);
  EXPECT_EQ(k2->element, "Q5.3");
  EXPECT_THAT(k2->related_elements, ElementsAre("Q3.6"));
  const rules::Rule* k3 = FindRule(policy, "K3");
  ASSERT_NE(k3, nullptr);
  EXPECT_EQ(k3->metric, rules::kGroupConformalCoverage);
  EXPECT_EQ(k3->critical->min_shortfall, 0.05);
  EXPECT_EQ(k3->min_labelled, 500u);
  EXPECT_EQ(k3->element, "Q2.4/2.4.c");
  EXPECT_THAT(k3->related_elements, ElementsAre("Q5.4"));
  const rules::Rule* r1 = FindRule(policy, "R1");
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->metric, rules::kRecommendationDiversity);
  EXPECT_EQ(r1->comparison, rules::Comparison::kBelow);
  EXPECT_TRUE(r1->baseline_from_reference);
  EXPECT_EQ(r1->window, absl::Hours(24));
  EXPECT_EQ(r1->warning->value, -0.10);
  EXPECT_EQ(r1->warning->windows, 3u);
  EXPECT_EQ(r1->critical->value, -0.20);
  EXPECT_EQ(r1->critical->worsening_windows, 5u);
  EXPECT_EQ(r1->min_lists, 1000u);
  EXPECT_EQ(r1->element, "Q6.3");
  EXPECT_THAT(r1->related_elements, ElementsAre("Q3.5"));
  for (const char* id : {"R2", "R2b"}) {
    const rules::Rule* r2 = FindRule(policy, id);
    ASSERT_NE(r2, nullptr) << id;
    EXPECT_EQ(r2->warning->value, -0.10);
    EXPECT_EQ(r2->critical->value, -0.20);
    EXPECT_EQ(r2->min_lists, 1000u);
    EXPECT_EQ(r2->element, "Q6.3");
    EXPECT_THAT(r2->related_elements, ElementsAre("Q6.2"));
  }
  EXPECT_EQ(FindRule(policy, "R2")->metric, rules::kRecommendationNovelty);
  EXPECT_EQ(FindRule(policy, "R2b")->metric, rules::kCatalogueCoverage);
  const rules::Rule* r3 = FindRule(policy, "R3");
  ASSERT_NE(r3, nullptr);
  EXPECT_EQ(r3->metric, rules::kExposureGini);
  EXPECT_EQ(r3->comparison, rules::Comparison::kAbove);
  EXPECT_EQ(r3->warning->value, 0.05);
  EXPECT_EQ(r3->critical->value, 0.10);
  EXPECT_EQ(r3->element, "Q6.3");
  EXPECT_THAT(r3->related_elements, IsEmpty());
  // Their critical levels come with a runbook.
  for (const char* id : {"K1", "K2", "K3", "R1", "R2", "R2b", "R3", "E1"}) {
    EXPECT_THAT(FindRule(policy, id)->runbook, HasSubstr("Runbook")) << id;
  }
  // E1 as REFERENTIAL.md gives it: +20% vs baseline or 80% of budget,
  // +50% or the budget used up, one full window.
  const rules::Rule* e1 = FindRule(policy, "E1");
  ASSERT_NE(e1, nullptr);
  EXPECT_EQ(e1->metric, rules::kFootprintPer1000);
  EXPECT_EQ(e1->warning->value, 0.20);
  EXPECT_EQ(e1->warning->budget_share, 0.8);
  EXPECT_EQ(e1->critical->value, 0.50);
  EXPECT_EQ(e1->critical->budget_share, 1.0);
  EXPECT_EQ(e1->window, absl::Hours(24));
  EXPECT_EQ(e1->element, "Q6.1/6.1.b");
  EXPECT_THAT(e1->related_elements, ElementsAre("Q6.1/6.1.c", "Q6.1/6.1.e"));
}

TEST(ConfigTest, ConformalAndRecommendationKeys) {
  ASSERT_OK_AND_ASSIGN(
      rules::Policy policy,
      ParsePolicy("rules:\n"
                  "  - id: K1\n"
                  "    metric: conformal_coverage\n"
                  "    comparison: below\n"
                  "    warning: {max_p_value: 0.05}\n"
                  "    critical: {max_p_value: 0.001, min_shortfall: 0.05}\n"
                  "    min_sample: {labelled: 500}\n"
                  "    element: Q5.4/5.4.c\n"
                  "  - id: R1\n"
                  "    metric: recommendation_diversity\n"
                  "    comparison: below\n"
                  "    window: 1d\n"
                  "    baseline: reference\n"
                  "    warning: {value: -0.10, windows: 3}\n"
                  "    critical: {value: -0.20, worsening_windows: 5}\n"
                  "    min_sample: {lists: 1000}\n"
                  "    element: Q6.3\n"
                  "overrides:\n"
                  "  - rules: [K1]\n"
                  "    models: [strict]\n"
                  "    critical: {min_shortfall: 0.02}\n"
                  "  - rules: [R1]\n"
                  "    models: [strict]\n"
                  "    warning: {windows: 1}\n"
                  "    critical: {worsening_windows: 3}\n"
                  "    min_sample: {lists: 200}\n",
                  "p.yaml"));
  const rules::Rule& k1 = policy.rules[0];
  EXPECT_EQ(k1.warning->value, 0);
  EXPECT_EQ(k1.warning->max_p_value, 0.05);
  EXPECT_EQ(k1.critical->min_shortfall, 0.05);
  EXPECT_EQ(k1.min_labelled, 500u);
  EXPECT_EQ(policy.Resolve(k1, "strict").critical->min_shortfall, 0.02);
  EXPECT_EQ(policy.Resolve(k1, "strict").critical->max_p_value, 0.001);
  const rules::Rule& r1 = policy.rules[1];
  EXPECT_EQ(r1.warning->windows, 3u);
  EXPECT_EQ(r1.critical->worsening_windows, 5u);
  EXPECT_EQ(r1.min_lists, 1000u);
  const rules::Rule strict = policy.Resolve(r1, "strict");
  EXPECT_EQ(strict.warning->windows, 1u);
  EXPECT_EQ(strict.warning->value, -0.10);
  EXPECT_EQ(strict.critical->worsening_windows, 3u);
  EXPECT_EQ(strict.min_lists, 200u);

  // Bad values name their line: a type error the key's, a range error the
  // rule's, an override's the override's.
  const std::string k1_head =
      "rules:\n"
      "  - id: K1\n"
      "    metric: conformal_coverage\n"
      "    comparison: below\n";
  EXPECT_THAT(
      ErrorOf(ParsePolicy(k1_head + "    warning: {min_shortfall: lots}\n"
                                    "    element: Q5.4/5.4.c\n",
                          "p.yaml")),
      AllOf(HasSubstr("p.yaml:5:30"),
            HasSubstr("rules[0].warning.min_shortfall")));
  EXPECT_THAT(
      ErrorOf(ParsePolicy(k1_head + "    warning: {min_shortfall: 1.5}\n"
                                    "    element: Q5.4/5.4.c\n",
                          "p.yaml")),
      AllOf(HasSubstr("p.yaml:2:5"), HasSubstr("rule K1"),
            HasSubstr("min_shortfall must be in [0, 1), got 1.5")));
  EXPECT_THAT(ErrorOf(ParsePolicy(k1_head + "    warning: {value: 0.9}\n"
                                            "    element: Q5.4/5.4.c\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:2:5"), HasSubstr("takes no value")));
  // A misspelt metric is named as such, not as a level without a value.
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: K1\n"
                                  "    metric: conformal_coverag\n"
                                  "    comparison: below\n"
                                  "    warning: {max_p_value: 0.05}\n"
                                  "    element: Q5.4/5.4.c\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:2:5"),
                    HasSubstr("unknown metric \"conformal_coverag\"")));
  // Other metrics still need a value.
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: R1\n"
                                  "    metric: recommendation_diversity\n"
                                  "    comparison: below\n"
                                  "    window: 1d\n"
                                  "    baseline: reference\n"
                                  "    warning: {windows: 3}\n"
                                  "    element: Q6.3\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:7:14"), HasSubstr("value"),
                    HasSubstr("is required")));
  EXPECT_THAT(
      ErrorOf(ParsePolicy("rules:\n"
                          "  - id: R1\n"
                          "    metric: recommendation_diversity\n"
                          "    comparison: below\n"
                          "    window: 1d\n"
                          "    baseline: reference\n"
                          "    warning: {value: -0.1, windows: -3}\n"
                          "    element: Q6.3\n",
                          "p.yaml")),
      AllOf(HasSubstr("p.yaml:7:37"), HasSubstr("rules[0].warning.windows"),
            HasSubstr("non-negative integer")));
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: R1\n"
                                  "    metric: recommendation_diversity\n"
                                  "    comparison: below\n"
                                  "    window: 1d\n"
                                  "    baseline: reference\n"
                                  "    warning: {value: -0.1}\n"
                                  "    element: Q6.3\n"
                                  "overrides:\n"
                                  "  - models: [m]\n"
                                  "    warning: {worsening_windows: 0}\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:10:5"), HasSubstr("overrides[0]"),
                    HasSubstr("worsening_windows must be in [1, 100]")));
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F2\n"
                                  "    metric: demographic_parity_difference\n"
                                  "    comparison: above\n"
                                  "    warning: {value: 0.1}\n"
                                  "    min_sample: {lists: 1000}\n"
                                  "    element: Q2.4/2.4.d\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:2:5"),
                    HasSubstr("min_sample.lists is for recommendation")));
}

TEST(ConfigTest, ShippedConfigParses) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig(ReadText(kConfigPath), kConfigPath));
  EXPECT_EQ(config.data_dir, "./vigie-data");
  EXPECT_EQ(config.grpc_address, "127.0.0.1:50051");
  EXPECT_TRUE(config.accept_undeclared_models);
  EXPECT_EQ(config.expiry_sweep_interval, absl::Minutes(1));
  EXPECT_EQ(config.checkpoint_interval, absl::Seconds(1));
  EXPECT_EQ(config.checkpoint_bytes, uint64_t{64} << 20);
  EXPECT_EQ(config.block_cache_bytes, uint64_t{64} << 20);
  EXPECT_EQ(config.write_buffer_bytes, uint64_t{64} << 20);
  EXPECT_FALSE(config.sync_writes);
  EXPECT_TRUE(config.direct_io);
  EXPECT_EQ(config.default_model.task, "binary");
  EXPECT_EQ(config.default_model.decision_threshold, 0.5);
  EXPECT_EQ(config.default_model.pane_length, absl::Hours(1));
  EXPECT_EQ(config.default_model.label_delay, absl::Hours(24 * 7));
  EXPECT_THAT(config.default_model.monitors.group_attributes, IsEmpty());
  ASSERT_THAT(config.models, SizeIs(1));
  const ModelConfig* demo = config.FindModel("demo");
  ASSERT_NE(demo, nullptr);
  EXPECT_THAT(demo->monitors.group_attributes, ElementsAre("sex", "age_band"));
  EXPECT_EQ(demo->pane_length, absl::Hours(1));
  EXPECT_EQ(demo->label_delay, absl::Hours(24));
  EXPECT_EQ(demo->decision_threshold, 0.5);  // From default_model.
  EXPECT_EQ(config.FindModel("other"), nullptr);
  // No policy key: the embedded default policy.
  EXPECT_THAT(config.policy.rules, SizeIs(18));
}

TEST(ConfigTest, EmbeddedDefaultsAreTheShippedFiles) {
  EXPECT_EQ(std::string(kEmbeddedDefaultConfig), ReadText(kConfigPath));
  EXPECT_EQ(std::string(kEmbeddedDefaultPolicy), ReadText(kPolicyPath));
  ASSERT_OK_AND_ASSIGN(ServerConfig config, DefaultServerConfig());
  EXPECT_NE(config.FindModel("demo"), nullptr);
  EXPECT_THAT(config.policy.rules, SizeIs(18));
  // The shipped file documents the header's defaults, not other values.
  const ServerConfig defaults;
  EXPECT_EQ(config.checkpoint_interval, defaults.checkpoint_interval);
  EXPECT_EQ(config.checkpoint_bytes, defaults.checkpoint_bytes);
  EXPECT_EQ(config.block_cache_bytes, defaults.block_cache_bytes);
  EXPECT_EQ(config.write_buffer_bytes, defaults.write_buffer_bytes);
  EXPECT_EQ(config.sync_writes, defaults.sync_writes);
  EXPECT_EQ(config.direct_io, defaults.direct_io);
}

TEST(ConfigTest, EmptyDocumentGivesDefaults) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("", "empty.yaml"));
  const ServerConfig defaults;
  EXPECT_EQ(config.data_dir, defaults.data_dir);
  EXPECT_EQ(config.grpc_address, defaults.grpc_address);
  EXPECT_EQ(config.default_model.label_delay, absl::Hours(24 * 7));
  EXPECT_EQ(config.checkpoint_interval, defaults.checkpoint_interval);
  EXPECT_EQ(config.checkpoint_bytes, defaults.checkpoint_bytes);
  EXPECT_EQ(config.block_cache_bytes, defaults.block_cache_bytes);
  EXPECT_EQ(config.write_buffer_bytes, defaults.write_buffer_bytes);
  EXPECT_EQ(config.sync_writes, defaults.sync_writes);
  EXPECT_EQ(config.direct_io, defaults.direct_io);
  EXPECT_THAT(config.models, IsEmpty());
  EXPECT_THAT(config.policy.rules, SizeIs(18));
}

TEST(ConfigTest, HttpAndMetricsKeys) {
  const ServerConfig defaults;
  EXPECT_EQ(defaults.http_address, "127.0.0.1:9464");
  EXPECT_EQ(defaults.metrics.windows,
            (std::vector<absl::Duration>{absl::Hours(1), absl::Hours(24)}));
  EXPECT_EQ(defaults.metrics.max_series, 10'000u);
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("http_address: 0.0.0.0:8081\n"
                                         "metrics:\n"
                                         "  windows: [5m, 7d]\n"
                                         "  max_series: 500\n",
                                         "t.yaml"));
  EXPECT_EQ(config.http_address, "0.0.0.0:8081");
  EXPECT_EQ(config.metrics.windows,
            (std::vector<absl::Duration>{absl::Minutes(5), absl::Hours(168)}));
  EXPECT_EQ(config.metrics.max_series, 500u);
  ASSERT_OK_AND_ASSIGN(ServerConfig off,
                       ParseServerConfig("http_address: \"\"\n", "t.yaml"));
  EXPECT_EQ(off.http_address, "");

  EXPECT_THAT(
      ParseServerConfig("metrics:\n  windows: [5m, soon]\n", "t.yaml")
          .status()
          .message(),
      AllOf(HasSubstr("t.yaml:2:"), HasSubstr("must be a list of durations")));
  EXPECT_THAT(
      ParseServerConfig("metrics:\n  max_series: 10\n", "t.yaml")
          .status()
          .message(),
      HasSubstr("metrics.max_series must be in [100, 1000000], got 10"));
  EXPECT_THAT(ParseServerConfig("metrics:\n  windows: [0s]\n", "t.yaml")
                  .status()
                  .message(),
              HasSubstr("metrics.windows must each be in [1s, 366d]"));
  EXPECT_THAT(
      ParseServerConfig("http_address: nowhere\n", "t.yaml").status().message(),
      HasSubstr("http_address must be host:port"));
  EXPECT_THAT(ParseServerConfig("metrics:\n  window: [1h]\n", "t.yaml")
                  .status()
                  .message(),
              HasSubstr("window"));
}

TEST(ConfigTest, LogKeys) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("log:\n  level: warning\n  format: json\n", "t.yaml"));
  EXPECT_EQ(config.log.level, "warning");
  EXPECT_EQ(config.log.format, "json");
  EXPECT_THAT(
      ParseServerConfig("log:\n  level: loud\n", "t.yaml").status().message(),
      HasSubstr("log.level must be debug, info, warning or error"));
  EXPECT_THAT(
      ParseServerConfig("log:\n  format: xml\n", "t.yaml").status().message(),
      HasSubstr("log.format must be text or json"));
}

TEST(ConfigTest, TlsAndAuthKeys) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("tls:\n"
                                         "  cert_file: /s/server.pem\n"
                                         "  key_file: /s/server.key\n"
                                         "  client_ca_file: /s/ca.pem\n"
                                         "auth:\n"
                                         "  bearer_token_file: /s/token\n",
                                         "t.yaml"));
  EXPECT_TRUE(config.tls.enabled());
  EXPECT_EQ(config.tls.client_ca_file, "/s/ca.pem");
  EXPECT_EQ(config.bearer_token_file, "/s/token");
  EXPECT_FALSE(ServerConfig().tls.enabled());
  EXPECT_THAT(ParseServerConfig("tls:\n  cert_file: /s/server.pem\n", "t.yaml")
                  .status()
                  .message(),
              HasSubstr("tls.cert_file and tls.key_file go together"));
  EXPECT_THAT(ParseServerConfig("tls:\n  client_ca_file: /s/ca.pem\n", "t.yaml")
                  .status()
                  .message(),
              HasSubstr("tls.client_ca_file (mutual TLS) needs tls.cert_file"));
  EXPECT_THAT(
      ParseServerConfig("auth:\n  token: x\n", "t.yaml").status().message(),
      HasSubstr("token"));
}

TEST(ConfigTest, HeaderDefaultsOfCheckpointsAndStorage) {
  const ServerConfig defaults;
  EXPECT_EQ(defaults.checkpoint_interval, absl::Seconds(1));
  EXPECT_EQ(defaults.checkpoint_bytes, uint64_t{64} << 20);
  EXPECT_EQ(defaults.block_cache_bytes, uint64_t{64} << 20);
  EXPECT_EQ(defaults.write_buffer_bytes, uint64_t{64} << 20);
  EXPECT_FALSE(defaults.sync_writes);
  EXPECT_TRUE(defaults.direct_io);
  // An empty storage mapping changes nothing.
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("storage:\n", "t.yaml"));
  EXPECT_EQ(config.block_cache_bytes, defaults.block_cache_bytes);
  EXPECT_EQ(config.write_buffer_bytes, defaults.write_buffer_bytes);
  EXPECT_FALSE(config.sync_writes);
  EXPECT_TRUE(config.direct_io);
}

TEST(ConfigTest, CheckpointAndStorageKeys) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("checkpoint_interval: 250ms\n"
                                         "checkpoint_bytes: 1GiB\n"
                                         "storage:\n"
                                         "  block_cache: 524288KiB\n"
                                         "  write_buffer: 8388608\n"
                                         "  sync_writes: true\n"
                                         "  direct_io: false\n",
                                         "t.yaml"));
  EXPECT_EQ(config.checkpoint_interval, absl::Milliseconds(250));
  EXPECT_EQ(config.checkpoint_bytes, uint64_t{1} << 30);
  EXPECT_EQ(config.block_cache_bytes, uint64_t{512} << 20);
  EXPECT_EQ(config.write_buffer_bytes, uint64_t{8} << 20);
  EXPECT_TRUE(config.sync_writes);
  EXPECT_FALSE(config.direct_io);

  // Each unit, and plain bytes.
  for (const auto& [text, bytes] :
       {std::pair<const char*, uint64_t>{"2097152", uint64_t{2} << 20},
        {"4096KiB", uint64_t{4} << 20},
        {"3MiB", uint64_t{3} << 20},
        {"4GiB", uint64_t{4} << 30}}) {
    ASSERT_OK_AND_ASSIGN(
        config, ParseServerConfig(
                    absl::StrCat("checkpoint_bytes: ", text, "\n"), "t.yaml"));
    EXPECT_EQ(config.checkpoint_bytes, bytes) << text;
  }
  // The largest sizes allowed.
  ASSERT_OK_AND_ASSIGN(config,
                       ParseServerConfig("storage: {block_cache: 64GiB,\n"
                                         "          write_buffer: 64GiB}\n",
                                         "t.yaml"));
  EXPECT_EQ(config.block_cache_bytes, uint64_t{64} << 30);
  EXPECT_EQ(config.write_buffer_bytes, uint64_t{64} << 30);
}

TEST(ConfigTest, ReferenceTimeIsAnRfc3339Time) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("models:\n"
                        "  - id: m\n"
                        "    reference_time: 2026-01-05T06:00:00Z\n",
                        "t.yaml"));
  ASSERT_TRUE(config.models[0].reference_time.has_value());
  // 2026-01-05T00:00:00Z is 1,767,571,200 s after the epoch.
  EXPECT_EQ(*config.models[0].reference_time,
            absl::FromUnixSeconds(1'767'571'200 + 6 * 3600));
  EXPECT_FALSE(config.default_model.reference_time.has_value());
  const auto bad = ParseServerConfig(
      "models:\n  - id: m\n    reference_time: yesterday\n", "t.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("t.yaml:3"));
  EXPECT_THAT(bad.status().message(), HasSubstr("reference_time"));
}

TEST(ConfigTest, MalformedSizesNameTheKeyAndLine) {
  for (const char* bad : {"64MB", "64M", "64mib", "64 MiB", "1.5GiB", "-1",
                          "+5", "MiB", "0x10", "1e6", "64MiBs", "big", "[1, 2]",
                          "18446744073709551616", "17179869184GiB"}) {
    EXPECT_THAT(ErrorOf(ParseServerConfig(
                    absl::StrCat("data_dir: /d\ncheckpoint_bytes: ", bad, "\n"),
                    "t.yaml")),
                AllOf(HasSubstr("t.yaml:2:19"), HasSubstr("checkpoint_bytes"),
                      HasSubstr("a size in bytes")))
        << bad;
  }
  EXPECT_THAT(ErrorOf(ParseServerConfig("storage:\n"
                                        "  block_cache: 64MB\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:2:16"), HasSubstr("storage.block_cache"),
                    HasSubstr("64MB")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("storage:\n"
                                        "  write_buffer: lots\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:2:17"), HasSubstr("storage.write_buffer"),
                    HasSubstr("lots")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("storage:\n"
                                        "  sync_writes: always\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:2:16"), HasSubstr("storage.sync_writes"),
                    HasSubstr("true or false")));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("checkpoint_interval: often\n", "t.yaml")),
      AllOf(HasSubstr("t.yaml:1:22"), HasSubstr("checkpoint_interval")));
  // Unknown keys inside storage, and storage not a mapping.
  EXPECT_THAT(ErrorOf(ParseServerConfig("storage:\n"
                                        "  block_cache: 64MiB\n"
                                        "  block_cahce: 64MiB\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:3:3"), HasSubstr("storage"),
                    HasSubstr("block_cahce"),
                    HasSubstr("block_cache, write_buffer, sync_writes, "
                              "direct_io")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("storage: 64MiB\n", "t.yaml")),
              AllOf(HasSubstr("t.yaml:1:10"), HasSubstr("storage"),
                    HasSubstr("must be a mapping")));
  // The storage keys belong under storage.
  EXPECT_THAT(ErrorOf(ParseServerConfig("block_cache: 64MiB\n", "t.yaml")),
              AllOf(HasSubstr("t.yaml:1:1"), HasSubstr("block_cache")));
}

TEST(ConfigTest, AlertHistoryRetention) {
  ASSERT_OK_AND_ASSIGN(ServerConfig defaults, DefaultServerConfig());
  EXPECT_EQ(defaults.alerting.history_retention, absl::Hours(24 * 400));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("alerting:\n  history_retention: 30d\n", "t.yaml"));
  EXPECT_EQ(config.alerting.history_retention, absl::Hours(24 * 30));
  EXPECT_THAT(ErrorOf(ParseServerConfig("alerting:\n  history_retention: 1m\n",
                                        "t.yaml")),
              HasSubstr("alerting.history_retention must be in [1h, 36500d]"));
}

TEST(ConfigTest, PrivacySecretFile) {
  ASSERT_OK_AND_ASSIGN(ServerConfig defaults, DefaultServerConfig());
  EXPECT_EQ(defaults.privacy.secret_file, "");
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("privacy:\n  secret_file: /run/secret\n", "t.yaml"));
  EXPECT_EQ(config.privacy.secret_file, "/run/secret");
  EXPECT_EQ(defaults.privacy.min_group_size, 10u);
  ASSERT_OK_AND_ASSIGN(
      ServerConfig k,
      ParseServerConfig("privacy:\n  min_group_size: 25\n", "t.yaml"));
  EXPECT_EQ(k.privacy.min_group_size, 25u);
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("privacy:\n  min_group_size: 0\n", "t.yaml")),
      HasSubstr("privacy.min_group_size must be in [1, 1000000000]"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("privacy:\n  secret: abc\n", "t.yaml")),
              AllOf(HasSubstr("t.yaml:2:3"), HasSubstr("secret")));
}

TEST(ConfigTest, ExternalUrlIsAnHttpUrl) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("external_url: https://vigie.example\n", "t.yaml"));
  EXPECT_EQ(config.external_url, "https://vigie.example");
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("external_url: vigie.example\n", "t.yaml")),
      HasSubstr("external_url must start with http:// or https://"));
  ASSERT_OK_AND_ASSIGN(ServerConfig defaults, DefaultServerConfig());
  EXPECT_EQ(defaults.external_url, "");
}

TEST(ConfigTest, AlertingKeys) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("alerting:\n"
                                         "  alertmanager:\n"
                                         "    url: http://am:9093\n"
                                         "    timeout: 2s\n"
                                         "    external_url: http://vigie:8080\n"
                                         "  webhooks:\n"
                                         "    - url: http://hooks:8080/a\n"
                                         "    - url: http://hooks:8080/b\n"
                                         "      timeout: 1s\n"
                                         "  resend_interval: 30s\n"
                                         "  max_attempts: 3\n",
                                         "t.yaml"));
  EXPECT_EQ(config.alerting.alertmanager_url, "http://am:9093");
  EXPECT_EQ(config.alerting.alertmanager_timeout, absl::Seconds(2));
  EXPECT_EQ(config.alerting.external_url, "http://vigie:8080");
  ASSERT_THAT(config.alerting.webhooks, SizeIs(2));
  EXPECT_EQ(config.alerting.webhooks[0].url, "http://hooks:8080/a");
  EXPECT_EQ(config.alerting.webhooks[0].timeout, absl::Seconds(5));
  EXPECT_EQ(config.alerting.webhooks[1].timeout, absl::Seconds(1));
  EXPECT_EQ(config.alerting.resend_interval, absl::Seconds(30));
  EXPECT_EQ(config.alerting.max_attempts, 3);
  // Shipped defaults: no receiver but the log.
  ASSERT_OK_AND_ASSIGN(ServerConfig defaults, DefaultServerConfig());
  EXPECT_TRUE(defaults.alerting.alertmanager_url.empty());
  EXPECT_TRUE(defaults.alerting.webhooks.empty());
  EXPECT_EQ(defaults.alerting.resend_interval, absl::Minutes(1));
  EXPECT_EQ(defaults.alerting.max_attempts, 10);
  // Errors name the key, and the line when it is one of the file's.
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "alerting:\n  alertmanager:\n    url: https://am\n", "t.yaml")),
      HasSubstr("alerting.alertmanager.url must be http://"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "alerting:\n  webhooks:\n    - url: hooks:8080\n", "t.yaml")),
              HasSubstr("alerting.webhooks: url must be http://"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("alerting:\n  max_attempts: 0\n", "t.yaml")),
      HasSubstr("alerting.max_attempts must be in [1, 1000]"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "alerting:\n  alertmanager:\n    uri: http://am\n", "t.yaml")),
      AllOf(HasSubstr("t.yaml:3:"), HasSubstr("uri")));
}

TEST(ConfigTest, KafkaIngestKeys) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("kafka_ingest:\n"
                        "  brokers: kafka-1:9092\n"
                        "  group_id: monitors\n"
                        "  topics:\n"
                        "    - {name: predictions}\n"
                        "    - {name: outcomes, format: json}\n"
                        "  dead_letter_topic: ''\n"
                        "  batch_size: 500\n"
                        "  batch_wait: 10ms\n"
                        "  properties:\n"
                        "    security.protocol: sasl_plaintext\n",
                        "t.yaml"));
  const KafkaIngestOptions& kafka = config.kafka_ingest;
  EXPECT_TRUE(kafka.enabled());
  EXPECT_EQ(kafka.group_id, "monitors");
  ASSERT_EQ(kafka.topics.size(), 2u);
  EXPECT_EQ(kafka.topics[0].name, "predictions");
  EXPECT_EQ(kafka.topics[0].format, PayloadFormat::kProtobuf);
  EXPECT_EQ(kafka.topics[1].format, PayloadFormat::kJson);
  EXPECT_EQ(kafka.dead_letter_topic, "");
  EXPECT_EQ(kafka.batch_size, 500u);
  EXPECT_EQ(kafka.batch_wait, absl::Milliseconds(10));
  EXPECT_THAT(kafka.properties,
              ElementsAre(Pair("security.protocol", "sasl_plaintext")));
  // Shipped: off.
  ASSERT_OK_AND_ASSIGN(ServerConfig defaults, DefaultServerConfig());
  EXPECT_FALSE(defaults.kafka_ingest.enabled());
  EXPECT_EQ(defaults.kafka_ingest.dead_letter_topic, "vigie-dead-letters");

  EXPECT_THAT(
      ErrorOf(ParseServerConfig("kafka_ingest: {brokers: k:9092}\n", "t.yaml")),
      HasSubstr("topics must list at least one topic"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("kafka_ingest:\n  brokers: k:9092\n"
                                        "  topics: [{name: e, format: avro}]\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:3:12"), HasSubstr("format must be")));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "kafka_ingest:\n  brokers: k:9092\n  topics: [{name: e}]\n"
                  "  properties: {group.id: other}\n",
                  "t.yaml")),
              AllOf(HasSubstr("t.yaml:4:16"), HasSubstr("set by Vigie")));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "kafka_ingest:\n  brokers: k:9092\n  topics: [{name: e}]\n"
                  "  properties: {fetch.wait.max.mss: 5}\n",
                  "t.yaml")),
              HasSubstr("fetch.wait.max.mss"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("kafka_ingest:\n  brokers: k:9092\n"
                                        "  topics: [{name: e}, {name: e}]\n",
                                        "t.yaml")),
              HasSubstr("listed twice"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "kafka_ingest:\n  brokers: k:9092\n  topics: [{name: e}]\n"
                  "  batch_size: 0\n",
                  "t.yaml")),
              HasSubstr("batch_size must be in [1, 100000]"));
}

TEST(ConfigTest, AlertingKafkaKeys) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("alerting:\n"
                        "  kafka:\n"
                        "    brokers: kafka-1:9092,kafka-2:9092\n"
                        "    topic: model-alerts\n"
                        "    timeout: 2s\n"
                        "    properties:\n"
                        "      security.protocol: sasl_plaintext\n"
                        "      compression.type: zstd\n",
                        "t.yaml"));
  EXPECT_EQ(config.alerting.kafka.brokers, "kafka-1:9092,kafka-2:9092");
  EXPECT_EQ(config.alerting.kafka.topic, "model-alerts");
  EXPECT_EQ(config.alerting.kafka.timeout, absl::Seconds(2));
  EXPECT_THAT(config.alerting.kafka.properties,
              ElementsAre(Pair("compression.type", "zstd"),
                          Pair("security.protocol", "sasl_plaintext")));
  // Shipped defaults: no Kafka sink; its topic and timeout when one is set.
  ASSERT_OK_AND_ASSIGN(ServerConfig defaults, DefaultServerConfig());
  EXPECT_TRUE(defaults.alerting.kafka.brokers.empty());
  ASSERT_OK_AND_ASSIGN(
      ServerConfig brokers_only,
      ParseServerConfig("alerting:\n  kafka:\n    brokers: k:9092\n",
                        "t.yaml"));
  EXPECT_EQ(brokers_only.alerting.kafka.topic, "vigie-alerts");
  EXPECT_EQ(brokers_only.alerting.kafka.timeout, absl::Seconds(5));
  EXPECT_EQ(brokers_only.alerting.kafka.key, sinks::KafkaKey::kModel);
  ASSERT_OK_AND_ASSIGN(
      ServerConfig by_alert,
      ParseServerConfig(
          "alerting:\n  kafka: {brokers: k:9092, key: fingerprint}\n",
          "t.yaml"));
  EXPECT_EQ(by_alert.alerting.kafka.key, sinks::KafkaKey::kFingerprint);
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "alerting:\n  kafka: {brokers: k:9092, key: rule}\n", "t.yaml")),
      HasSubstr("key"));

  // Errors name the line and the key.
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "alerting:\n  kafka:\n    brokers: k:9092\n    topik: x\n",
                  "t.yaml")),
              AllOf(HasSubstr("t.yaml:4:5"), HasSubstr("alerting.kafka"),
                    HasSubstr("topik"),
                    HasSubstr("brokers, topic, timeout, key, properties")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("alerting:\n"
                                        "  kafka:\n"
                                        "    brokers: k:9092\n"
                                        "    properties:\n"
                                        "      compresion.type: zstd\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:5:7"),
                    HasSubstr("alerting.kafka.properties.compresion.type")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("alerting:\n"
                                        "  kafka:\n"
                                        "    brokers: k:9092\n"
                                        "    properties:\n"
                                        "      acks: 1\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:5:7"), HasSubstr("set by Vigie")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("alerting:\n"
                                        "  kafka:\n"
                                        "    brokers: k:9092\n"
                                        "    properties: zstd\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:4:17"), HasSubstr("mapping")));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "alerting:\n  kafka:\n    brokers: k:9092\n    timeout: 2m\n",
          "t.yaml")),
      HasSubstr("alerting.kafka.timeout must be in [100ms, 1m], got 2m"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "alerting:\n  kafka:\n    brokers: k:9092\n    topic: \"\"\n",
                  "t.yaml")),
              HasSubstr("alerting.kafka.topic is required"));
}

TEST(ConfigTest, CheckpointAndStorageRanges) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  for (const Case& c : {
           Case{"checkpoint_interval: 9ms\n",
                "checkpoint_interval must be in [10ms, 1h], got 9ms"},
           Case{"checkpoint_interval: 1h1s\n",
                "checkpoint_interval must be in [10ms, 1h], got 1h1s"},
           Case{"checkpoint_interval: 0s\n",
                "checkpoint_interval must be in [10ms, 1h], got 0"},
           Case{"checkpoint_interval: -1s\n",
                "checkpoint_interval must be in [10ms, 1h], got -1s"},
           Case{"checkpoint_bytes: 1048575\n",
                "checkpoint_bytes must be in [1MiB, 4GiB], got 1048575"},
           Case{"checkpoint_bytes: 0\n",
                "checkpoint_bytes must be in [1MiB, 4GiB], got 0"},
           Case{"checkpoint_bytes: 4097MiB\n",
                "checkpoint_bytes must be in [1MiB, 4GiB], got 4097MiB"},
           Case{"storage: {block_cache: 1023KiB}\n",
                "storage.block_cache must be in [1MiB, 64GiB], got 1023KiB"},
           Case{"storage: {block_cache: 65GiB}\n",
                "storage.block_cache must be in [1MiB, 64GiB], got 65GiB"},
           Case{"storage: {write_buffer: 3MiB}\n",
                "storage.write_buffer must be in [4MiB, 64GiB], got 3MiB"},
           Case{"storage: {write_buffer: 68719476737}\n",
                "storage.write_buffer must be in [4MiB, 64GiB], got "
                "68719476737"},
       }) {
    EXPECT_THAT(ErrorOf(ParseServerConfig(c.yaml, "t.yaml")),
                AllOf(HasSubstr("t.yaml:1:1"), HasSubstr(c.message)))
        << c.yaml;
  }
  // The bounds themselves are allowed.
  EXPECT_OK(
      ParseServerConfig("checkpoint_interval: 10ms\n"
                        "checkpoint_bytes: 1MiB\n"
                        "storage: {block_cache: 1MiB, write_buffer: 4MiB}\n",
                        "t.yaml"));
  EXPECT_OK(
      ParseServerConfig("checkpoint_interval: 1h\n"
                        "checkpoint_bytes: 4GiB\n",
                        "t.yaml"));
}

TEST(ConfigTest, UnknownKeyNamesItsLineAndTheAllowedKeys) {
  const std::string message =
      ErrorOf(ParseServerConfig("data_dir: /d\n"
                                "default_model:\n"
                                "  pane_lenght: 1h\n",
                                "test.yaml"));
  EXPECT_THAT(message,
              AllOf(HasSubstr("test.yaml:3:3"), HasSubstr("pane_lenght"),
                    HasSubstr("default_model"), HasSubstr("pane_length")));
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F9\n"
                                  "    metric: demographic_parity_ratio\n"
                                  "    treshold: 3\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:4:5"), HasSubstr("rules[0]"),
                    HasSubstr("treshold")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("verbose: true\n", "t.yaml")),
              AllOf(HasSubstr("t.yaml:1:1"), HasSubstr("verbose")));
}

TEST(ConfigTest, BadThresholdIsAnError) {
  EXPECT_THAT(ErrorOf(ParseServerConfig("models:\n"
                                        "  - id: m\n"
                                        "    decision_threshold: 1.5\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:2:"), HasSubstr("model m"),
                    HasSubstr("decision_threshold")));
  EXPECT_THAT(ErrorOf(ParseServerConfig("default_model:\n"
                                        "  decision_threshold: half\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:2:23"),
                    HasSubstr("default_model.decision_threshold")));
  // A policy whose warning comes after its critical level.
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F2\n"
                                  "    metric: demographic_parity_difference\n"
                                  "    comparison: above\n"
                                  "    warning: {value: 0.2}\n"
                                  "    critical: {value: 0.1}\n"
                                  "    element: Q2.4/2.4.d\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:2:5"), HasSubstr("rule F2"),
                    HasSubstr("warning.value")));
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F2\n"
                                  "    metric: demographic_parity_difference\n"
                                  "    comparison: sideways\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:4:17"), HasSubstr("comparison")));
}

TEST(ConfigTest, DurationsAcceptDaysAndRejectTheRest) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("expiry_sweep_interval: 30s\n"
                                         "default_model:\n"
                                         "  label_delay: 1d12h\n"
                                         "  pane_length: 5m\n"
                                         "models:\n"
                                         "  - {id: a, label_delay: 730d}\n"
                                         "  - {id: b, label_delay: 1.5d}\n",
                                         "t.yaml"));
  EXPECT_EQ(config.expiry_sweep_interval, absl::Seconds(30));
  EXPECT_EQ(config.default_model.label_delay, absl::Hours(36));
  EXPECT_EQ(config.default_model.pane_length, absl::Minutes(5));
  EXPECT_EQ(config.models[0].label_delay, absl::Hours(24 * 730));
  EXPECT_EQ(config.models[1].label_delay, absl::Hours(36));
  EXPECT_EQ(config.models[1].pane_length, absl::Minutes(5));  // Inherited.

  for (const char* bad : {"5 minutes", "1w", "d", "inf", "1d-1h", "[1h]"}) {
    EXPECT_THAT(
        ErrorOf(ParseServerConfig(
            absl::StrCat("default_model:\n  label_delay: ", bad, "\n"),
            "t.yaml")),
        AllOf(HasSubstr("t.yaml:2:16"), HasSubstr("default_model.label_delay")))
        << bad;
  }
  // Parsed but out of range: named with the model's position.
  EXPECT_THAT(ErrorOf(ParseServerConfig("default_model: {pane_length: 0s}\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:1:16"), HasSubstr("pane_length")));
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F1\n"
                                  "    metric: demographic_parity_ratio\n"
                                  "    comparison: below\n"
                                  "    window: forever\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:5:13"), HasSubstr("rules[0].window")));
}

TEST(ConfigTest, EventTimeSettings) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("models:\n"
                                         "  - id: a\n"
                                         "    allowed_lateness: 2h\n"
                                         "    late_events: current_pane\n"
                                         "    join_time: outcome\n"
                                         "  - id: b\n"
                                         "    allowed_lateness: unlimited\n",
                                         "t.yaml"));
  EXPECT_EQ(config.models[0].allowed_lateness, absl::Hours(2));
  EXPECT_EQ(config.models[0].late_events, LatePolicy::kCurrentPane);
  EXPECT_EQ(config.models[0].join_time, JoinTime::kOutcome);
  EXPECT_EQ(config.models[1].allowed_lateness, absl::InfiniteDuration());
  EXPECT_EQ(config.models[1].late_events, LatePolicy::kDrop);
  EXPECT_EQ(config.models[1].join_time, JoinTime::kPrediction);
  EXPECT_THAT(ErrorOf(ParseServerConfig("default_model: {late_events: keep}\n",
                                        "t.yaml")),
              AllOf(HasSubstr("t.yaml:1"), HasSubstr("late_events"),
                    HasSubstr("drop, current_pane")));
}

TEST(ConfigTest, RetentionMustCoverEveryRuleWindow) {
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("default_model: {retention: 1d}\n"
                                "policy:\n"
                                "  rules:\n"
                                "    - id: W\n"
                                "      metric: equalized_odds_difference\n"
                                "      comparison: above\n"
                                "      window: 2d\n"
                                "      warning: {value: 0.1}\n"
                                "      element: Q2.4/2.4.d\n",
                                "t.yaml")),
      AllOf(HasSubstr("retention 24h"), HasSubstr("window 48h"),
            HasSubstr("rule W")));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "default_model: {pane_length: 1h, retention: 30m}\n", "t.yaml")),
      HasSubstr("retention must be finite and at least pane_length"));
}

TEST(ConfigTest, InlinePolicy) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("policy:\n"
                        "  referential: my-ref@1\n"
                        "  evaluation_interval: 30s\n"
                        "  rules:\n"
                        "    - id: X1\n"
                        "      metric: true_positive_rate_difference\n"
                        "      comparison: above\n"
                        "      models: [m]\n"
                        "      attributes: [sex]\n"
                        "      window: 30d\n"
                        "      confidence: 0.99\n"
                        "      critical: {value: 0.2}\n"
                        "      for: 3\n"
                        "      keep_firing_for: 2\n"
                        "      element: Q2.4/2.4.d\n",
                        "t.yaml"));
  EXPECT_EQ(config.policy.referential, "my-ref@1");
  EXPECT_EQ(config.policy.evaluation_interval, absl::Seconds(30));
  ASSERT_THAT(config.policy.rules, SizeIs(1));
  const rules::Rule& rule = config.policy.rules[0];
  EXPECT_EQ(rule.id, "X1");
  EXPECT_THAT(rule.models, ElementsAre("m"));
  EXPECT_THAT(rule.attributes, ElementsAre("sex"));
  EXPECT_EQ(rule.window, absl::Hours(24 * 30));
  EXPECT_EQ(rule.confidence, 0.99);
  EXPECT_FALSE(rule.warning.has_value());
  EXPECT_EQ(rule.critical->value, 0.2);
  EXPECT_FALSE(rule.critical->max_p_value.has_value());
  EXPECT_EQ(rule.for_evaluations, 3u);
  EXPECT_EQ(rule.keep_firing_for, 2u);
  // Out of range, or not a count: the line of the rule, or of the value.
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F2\n"
                                  "    metric: demographic_parity_difference\n"
                                  "    comparison: above\n"
                                  "    warning: {value: 0.1}\n"
                                  "    for: 0\n"
                                  "    element: Q2.4/2.4.d\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:2:5"), HasSubstr("rule F2"),
                    HasSubstr("for must be in [1, 1000]")));
  EXPECT_THAT(ErrorOf(ParsePolicy("rules:\n"
                                  "  - id: F2\n"
                                  "    metric: demographic_parity_difference\n"
                                  "    comparison: above\n"
                                  "    keep_firing_for: soon\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:5:22"), HasSubstr("keep_firing_for")));
}

TEST(ConfigTest, DriftKeys) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       ParseServerConfig("models:\n"
                                         "  - id: m\n"
                                         "    drift_bins: 20\n"
                                         "    drift_categories: 5\n"
                                         "    drift_max_features: 7\n"
                                         "    drift_tracked_categories: 50\n"
                                         "    adwin_delta: 0.01\n"
                                         "    page_hinkley_threshold: 80\n",
                                         "t.yaml"));
  const ModelConfig& m = config.models[0];
  EXPECT_EQ(m.drift.bins, 20u);
  EXPECT_EQ(m.drift.max_categories, 5u);
  EXPECT_EQ(m.monitors.drift.max_features, 7u);
  EXPECT_EQ(m.monitors.drift.max_categories, 50u);
  EXPECT_EQ(m.detectors.adwin.delta, 0.01);
  EXPECT_EQ(m.detectors.page_hinkley.threshold, 80);
  // The shipped defaults.
  EXPECT_EQ(config.default_model.drift.bins, 10u);
  EXPECT_EQ(config.default_model.detectors.adwin.delta, 0.002);
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("default_model: {drift_bins: 1}\n", "t.yaml")),
      HasSubstr("bins must be in [2, 100], got 1"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {drift_categories: 300}\n", "t.yaml")),
              HasSubstr("must not exceed drift_tracked_categories"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("default_model: {adwin_delta: 2}\n", "t.yaml")),
      HasSubstr("error-stream detectors"));
}

TEST(ConfigTest, ReferenceVersionsKept) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("models:\n  - id: m\n    reference_versions: 3\n",
                        "t.yaml"));
  EXPECT_EQ(config.models[0].reference_versions, 3u);
  EXPECT_EQ(config.default_model.reference_versions, 10u);
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {reference_versions: 0}\n", "t.yaml")),
              HasSubstr("reference_versions must be in [1, 1000], got 0"));
}

TEST(ConfigTest, LivenessAndReferenceWindow) {
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("default_model: {expect_events_every: 15m, "
                        "reference_window: 7d}\n",
                        "t.yaml"));
  EXPECT_EQ(config.default_model.expect_events_every, absl::Minutes(15));
  EXPECT_EQ(config.default_model.reference_window, absl::Hours(24 * 7));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {expect_events_every: 10ms}\n", "t.yaml")),
              HasSubstr("expect_events_every must be 0 or in [1s, 366d]"));
  // Its panes must still be kept when it freezes.
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {reference_window: 30d, retention: 30d}\n",
                  "t.yaml")),
              HasSubstr("less than retention"));
}

TEST(ConfigTest, PolicyOverridesAndSummaries) {
  const std::string rule =
      "rules:\n"
      "  - id: F2\n"
      "    metric: demographic_parity_difference\n"
      "    comparison: above\n"
      "    warning: {value: 0.05, max_p_value: 0.05}\n"
      "    critical: {value: 0.10}\n"
      "    summary: \"{model}: {metric} {value}\"\n"
      "    element: Q2.4/2.4.d\n";
  ASSERT_OK_AND_ASSIGN(
      rules::Policy policy,
      ParsePolicy(rule + "overrides:\n"
                         "  - models: [credit]\n"
                         "    attributes: [age]\n"
                         "    warning: {value: 0.08}\n"
                         "    min_sample: {predictions_per_group: 900}\n"
                         "    for: 4\n"
                         "    baseline: 0.01\n"
                         "  - rules: [F2]\n"
                         "    models: [legacy]\n"
                         "    enabled: false\n"
                         "    window: 7d\n",
                  "p.yaml"));
  EXPECT_EQ(policy.rules[0].summary, "{model}: {metric} {value}");
  ASSERT_THAT(policy.overrides, SizeIs(2));
  const rules::Rule age = policy.Resolve(policy.rules[0], "credit", "age");
  EXPECT_EQ(age.warning->value, 0.08);
  EXPECT_EQ(age.warning->max_p_value, 0.05);  // Kept: merged by field.
  EXPECT_EQ(age.min_predictions_per_group, 900u);
  EXPECT_EQ(age.for_evaluations, 4u);
  EXPECT_EQ(age.baseline, 0.01);
  const rules::Rule legacy = policy.Resolve(policy.rules[0], "legacy");
  EXPECT_FALSE(legacy.enabled);
  EXPECT_EQ(legacy.window, absl::Hours(24 * 7));

  // baseline: a number or "reference", in rules and overrides alike.
  ASSERT_OK_AND_ASSIGN(policy, ParsePolicy(rule + "overrides:\n"
                                                  "  - models: [credit]\n"
                                                  "    baseline: reference\n",
                                           "p.yaml"));
  EXPECT_TRUE(
      policy.Resolve(policy.rules[0], "credit", "age").baseline_from_reference);
  EXPECT_FALSE(
      policy.Resolve(policy.rules[0], "other", "age").baseline_from_reference);
  EXPECT_THAT(ErrorOf(ParsePolicy(rule + "overrides:\n"
                                         "  - baseline: deployment\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:10:15"),
                    HasSubstr("must be a number or \"reference\"")));

  // An unknown key, a bad value, and an override that makes a rule invalid:
  // each names its line.
  EXPECT_THAT(ErrorOf(ParsePolicy(rule + "overrides:\n"
                                         "  - models: [credit]\n"
                                         "    treshold: 0.2\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:11:5"), HasSubstr("treshold")));
  EXPECT_THAT(ErrorOf(ParsePolicy(rule + "overrides:\n"
                                         "  - models: [credit]\n"
                                         "    for: never\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:11:10"), HasSubstr("for")));
  EXPECT_THAT(ErrorOf(ParsePolicy(rule + "overrides:\n"
                                         "  - rules: [F2]\n"
                                         "    for: 2\n"
                                         "  - models: [credit]\n"
                                         "    critical: {value: 0.01}\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:12:5"), HasSubstr("overrides[1]"),
                    HasSubstr("must be <= critical.value"),
                    HasSubstr("model \"credit\"")));
  EXPECT_THAT(ErrorOf(ParsePolicy(rule + "overrides:\n"
                                         "  - rules: [F9]\n",
                                  "p.yaml")),
              AllOf(HasSubstr("p.yaml:10:5"), HasSubstr("no rule \"F9\"")));
  EXPECT_THAT(
      ErrorOf(ParsePolicy("rules:\n"
                          "  - id: F2\n"
                          "    metric: demographic_parity_difference\n"
                          "    comparison: above\n"
                          "    warning: {value: 0.05}\n"
                          "    summary: \"{model} has {vaule}\"\n"
                          "    element: Q2.4/2.4.d\n",
                          "p.yaml")),
      AllOf(HasSubstr("p.yaml:2:5"), HasSubstr("unknown placeholder {vaule}")));
}

TEST(ConfigTest, PolicyFileIsRelativeToTheConfigFile) {
  testutil::TempDir dir;
  WriteText(dir.Join("rules.yaml"), "referential: file-ref@2\nrules: []\n");
  WriteText(dir.Join("vigie.yaml"), "policy_file: rules.yaml\n");
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       LoadServerConfig(dir.Join("vigie.yaml")));
  EXPECT_EQ(config.policy.referential, "file-ref@2");
  EXPECT_THAT(config.policy.rules, IsEmpty());

  WriteText(dir.Join("missing.yaml"), "policy_file: nowhere.yaml\n");
  EXPECT_THAT(ErrorOf(LoadServerConfig(dir.Join("missing.yaml")),
                      absl::StatusCode::kNotFound),
              AllOf(HasSubstr("missing.yaml:1:14"), HasSubstr("nowhere.yaml")));
  WriteText(dir.Join("both.yaml"),
            "policy_file: rules.yaml\npolicy: {rules: []}\n");
  EXPECT_THAT(ErrorOf(LoadServerConfig(dir.Join("both.yaml"))),
              HasSubstr("not both"));
  // Errors in the policy file name that file.
  WriteText(dir.Join("bad_rules.yaml"), "rules: [{id: F1, metric: nope}]\n");
  WriteText(dir.Join("bad.yaml"), "policy_file: bad_rules.yaml\n");
  EXPECT_THAT(ErrorOf(LoadServerConfig(dir.Join("bad.yaml"))),
              HasSubstr("bad_rules.yaml:1:"));
  EXPECT_EQ(LoadServerConfig(dir.Join("absent.yaml")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigTest, CatalogueBoundsHaveDefaultsAndRanges) {
  // The shipped file documents the header's defaults.
  ASSERT_OK_AND_ASSIGN(ServerConfig shipped, DefaultServerConfig());
  const monitors::ItemCatalogueOptions defaults;
  EXPECT_EQ(shipped.catalogue.max_items, defaults.max_items);
  EXPECT_EQ(shipped.catalogue.max_categories, defaults.max_categories);
  EXPECT_EQ(shipped.catalogue.max_categories_per_item,
            defaults.max_categories_per_item);
  EXPECT_EQ(shipped.catalogue.max_embedding_dimension,
            defaults.max_embedding_dimension);
  EXPECT_EQ(defaults.max_items, 1'000'000u);

  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("catalogue:\n  max_items: 500\n  max_categories: 40\n"
                        "  max_categories_per_item: 3\n"
                        "  max_embedding_dimension: 16\n",
                        "t.yaml"));
  EXPECT_EQ(config.catalogue.max_items, 500u);
  EXPECT_EQ(config.catalogue.max_categories, 40u);
  EXPECT_EQ(config.catalogue.max_categories_per_item, 3u);
  EXPECT_EQ(config.catalogue.max_embedding_dimension, 16u);
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("catalogue:\n  max_items: 0\n", "t.yaml")),
      AllOf(HasSubstr("t.yaml:2:"),
            HasSubstr("max_items must be in [1, 100000000], got 0")));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "catalogue: {max_embedding_dimension: 5000}\n", "t.yaml")),
              HasSubstr("max_embedding_dimension must be in [1, 4096]"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("catalogue: {max_item: 5}\n", "t.yaml")),
      HasSubstr("unknown key \"max_item\""));
}

TEST(ConfigTest, CatalogueFileIsRelativeToTheConfigFileAndLoads) {
  testutil::TempDir dir;
  // 3 items with categories (jazz, rock, live: 3 labels), 1000 reference
  // users.
  WriteText(dir.Join("items.jsonl"),
            "# items export\n"
            "{\"referenceUsers\": 1000}\n"
            "{\"item\": {\"itemId\": \"a1\", \"categories\": [\"jazz\", "
            "\"live\"], \"referenceUsers\": 12}}\n"
            "\n"
            "{\"item\": {\"itemId\": \"b7\", \"categories\": [\"rock\"]}}\n"
            "{\"item\": {\"itemId\": \"c3\", \"categories\": [\"jazz\"], "
            "\"referenceUsers\": 400}}\n");
  WriteText(dir.Join("vigie.yaml"),
            "models:\n  - id: recs\n    task: recommendation\n"
            "    catalogue_file: items.jsonl\n"
            "  - id: plain\n");
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       LoadServerConfig(dir.Join("vigie.yaml")));
  EXPECT_EQ(config.FindModel("recs")->catalogue_file, dir.Join("items.jsonl"));
  EXPECT_EQ(config.FindModel("plain")->catalogue_file, "");
  ASSERT_OK_AND_ASSIGN(
      monitors::ItemCatalogue catalogue,
      LoadCatalogueFile(*config.FindModel("recs"), config.catalogue));
  EXPECT_EQ(catalogue.size(), 3u);
  EXPECT_EQ(catalogue.reference_users(), 1000u);
  EXPECT_EQ(catalogue.feature_dimension(), 3u);
  EXPECT_EQ(catalogue.interacting_users(catalogue.Find("c3")), 400u);

  // Absolute paths stay as they are.
  ASSERT_OK_AND_ASSIGN(
      config,
      ParseServerConfig(absl::StrCat("models: [{id: recs, task: "
                                     "recommendation, catalogue_file: \"",
                                     dir.Join("items.jsonl"), "\"}]\n"),
                        "elsewhere/vigie.yaml"));
  EXPECT_EQ(config.models[0].catalogue_file, dir.Join("items.jsonl"));
}

TEST(ConfigTest, BadCatalogueFileNamesTheFileAndLine) {
  testutil::TempDir dir;
  // Line 4 repeats the id of line 2.
  WriteText(dir.Join("dup.jsonl"),
            "{\"item\": {\"itemId\": \"a1\"}}\n"
            "{\"item\": {\"itemId\": \"b2\"}}\n"
            "# a comment\n"
            "{\"item\": {\"itemId\": \"b2\"}}\n");
  // Line 2 is not a CatalogueLine.
  WriteText(dir.Join("broken.jsonl"),
            "{\"item\": {\"itemId\": \"a1\"}}\n{\"item\": \n");
  WriteText(
      dir.Join("vigie.yaml"),
      "models:\n"
      "  - id: dup\n    task: recommendation\n    catalogue_file: dup.jsonl\n"
      "  - id: broken\n    task: recommendation\n    catalogue_file: "
      "broken.jsonl\n"
      "  - id: missing\n    task: recommendation\n    catalogue_file: "
      "missing.jsonl\n");
  ASSERT_OK_AND_ASSIGN(ServerConfig config,
                       LoadServerConfig(dir.Join("vigie.yaml")));
  EXPECT_THAT(
      ErrorOf(LoadCatalogueFile(*config.FindModel("dup"), config.catalogue)),
      AllOf(HasSubstr("model dup: catalogue_file"), HasSubstr("dup.jsonl"),
            HasSubstr("line 4: duplicate item id \"b2\"")));
  EXPECT_THAT(
      ErrorOf(LoadCatalogueFile(*config.FindModel("broken"), config.catalogue)),
      AllOf(HasSubstr("broken.jsonl"),
            HasSubstr("line 2: not a CatalogueLine")));
  EXPECT_THAT(
      ErrorOf(LoadCatalogueFile(*config.FindModel("missing"), config.catalogue),
              absl::StatusCode::kNotFound),
      AllOf(HasSubstr("missing.jsonl"), HasSubstr("cannot read")));
  // The bounds apply: 2 items over max_items = 1, at line 2.
  monitors::ItemCatalogueOptions one_item;
  one_item.max_items = 1;
  EXPECT_THAT(ErrorOf(LoadCatalogueFile(*config.FindModel("dup"), one_item)),
              HasSubstr("line 2: more than max_items = 1 items"));
}

TEST(ConfigTest, CatalogueFileIsForListedModelsThatTakeOne) {
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {catalogue_file: items.jsonl}\n", "t.yaml")),
              HasSubstr("unknown key \"catalogue_file\""));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("models:\n  - id: triage\n    task: "
                                "multiclass\n    classes: [a, b]\n"
                                "    catalogue_file: items.jsonl\n",
                                "t.yaml")),
      AllOf(HasSubstr("t.yaml:2:"),
            HasSubstr("catalogue_file: model 'triage' is a multiclass model")));
  ModelConfig model;
  model.task = "recommendation";
  EXPECT_OK(model.AcceptsCatalogue());
  for (const char* task : {"binary", "multiclass", "regression"}) {
    model.task = task;
    EXPECT_EQ(model.AcceptsCatalogue().code(),
              absl::StatusCode::kFailedPrecondition)
        << task;
  }
}

TEST(ConfigTest, MalformedYamlIsAnErrorNotAnException) {
  EXPECT_THAT(ErrorOf(ParseServerConfig("models: [1, 2\n", "bad.yaml")),
              HasSubstr("bad.yaml:"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("- a\n- b\n", "list.yaml")),
              HasSubstr("must be a mapping"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("models: {id: m}\n", "t.yaml")),
              HasSubstr("must be a list"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("accept_undeclared_models: maybe\n", "t.yaml")),
      HasSubstr("true or false"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("data_dir: a\ndata_dir: b\n", "t.yaml")),
      HasSubstr("twice"));
}

TEST(ConfigTest, RetentionKeepsEveryWindowARuleReads) {
  // The shipped R1 reads 6 windows of a day back: a recommender keeping 5
  // days of panes cannot run it.
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "models: [{id: shop, task: recommendation, retention: 5d}]\n",
          "t.yaml")),
      HasSubstr("model shop: retention 120h is shorter than the 6 windows "
                "of 24h of rule R1 (it reads them all)"));
  EXPECT_OK(ParseServerConfig(
      "models: [{id: shop, task: recommendation, retention: 6d}]\n", "t.yaml"));
  // Other models are not held to the recommendation rules' span.
  EXPECT_OK(
      ParseServerConfig("models: [{id: credit, retention: 5d}]\n", "t.yaml"));
  // A one-window rule: its window alone.
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "models: [{id: credit, retention: 12h}]\n", "t.yaml")),
              HasSubstr("model credit: retention 12h is shorter than the "
                        "window 24h of rule"));
}

TEST(ConfigTest, ModelsAreChecked) {
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("models: [{task: binary}]\n", "t.yaml")),
      HasSubstr("id"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("models: [{id: a}, {id: a}]\n", "t.yaml")),
      HasSubstr("listed twice"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("models: [{id: r, task: ranking}]\n",
                                        "t.yaml")),
              HasSubstr("task must be \"binary\", \"multiclass\", "
                        "\"regression\" or \"recommendation\""));
  EXPECT_OK(ParseServerConfig(
      "models: [{id: r, task: regression, aci_gamma: 0.05}]\n", "t.yaml"));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig learns,
      ParseServerConfig("models: [{id: s, task: recommendation, "
                        "reference_window: 7d, learn_popularity: true}]\n",
                        "t.yaml"));
  EXPECT_TRUE(learns.models[0].learn_popularity);
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("models: [{id: s, task: recommendation, "
                                "learn_popularity: true}]\n",
                                "t.yaml")),
      HasSubstr("learn_popularity needs a reference_window"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("models: [{id: b, reference_window: 7d, "
                                "learn_popularity: true}]\n",
                                "t.yaml")),
      HasSubstr("learn_popularity: model 'b' is a binary model"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "models: [{id: r, task: regression, aci_gamma: 0}]\n", "t.yaml")),
      HasSubstr("aci_gamma must be in (0, 1]"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "models: [{id: s, task: recommendation, classes: [a, b]}]\n",
                  "t.yaml")),
              HasSubstr("classes are for multiclass models"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("models: [{id: s, task: recommendation, "
                                "personalization_sample_size: 1}]\n",
                                "t.yaml")),
      HasSubstr("personalization_sample_size"));
  EXPECT_THAT(
      ErrorOf(ParseServerConfig(
          "models: [{id: m, task: multiclass, classes: [a]}]\n", "t.yaml")),
      HasSubstr("2 to 1000 classes"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "models: [{id: m, task: multiclass, classes: [a, b, a]}]\n",
                  "t.yaml")),
              HasSubstr("class 'a' is listed twice"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("models: [{id: m, classes: [a, b]}]\n",
                                        "t.yaml")),
              HasSubstr("this one is binary"));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig multiclass,
      ParseServerConfig(
          "models: [{id: m, task: multiclass, classes: [low, high]}]\n",
          "t.yaml"));
  EXPECT_EQ(multiclass.models[0].classes(),
            (std::vector<std::string>{"low", "high"}));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig families,
      ParseServerConfig("default_model: {intersections: [[race, sex]],\n"
                        "                calibration_bins: 10}\n",
                        "t.yaml"));
  EXPECT_EQ(families.default_model.monitors.intersections,
            (std::vector<std::vector<std::string>>{{"race", "sex"}}));
  EXPECT_EQ(families.default_model.monitors.calibration.num_bins, 10);
  ASSERT_OK_AND_ASSIGN(
      ServerConfig references,
      ParseServerConfig("default_model: {reference_groups: {race: White}}\n",
                        "t.yaml"));
  EXPECT_EQ(references.default_model.monitors.reference_groups,
            (std::map<std::string, std::string>{{"race", "White"}}));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {reference_groups: [race]}\n", "t.yaml")),
              HasSubstr("must be a mapping"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {intersections: [race, sex]}\n", "t.yaml")),
              HasSubstr("must be a list of lists of strings"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {intersections: [[race]]}\n", "t.yaml")),
              HasSubstr("2 or more attributes"));
  EXPECT_THAT(ErrorOf(ParseServerConfig(
                  "default_model: {calibration_bins: 1}\n", "t.yaml")),
              HasSubstr("num_bins"));
  EXPECT_THAT(ErrorOf(ParseServerConfig("default_model: {id: x}\n", "t.yaml")),
              HasSubstr("unknown key \"id\""));
  ASSERT_OK_AND_ASSIGN(
      ServerConfig config,
      ParseServerConfig("default_model: {max_groups: 10, min_group_size: 5,\n"
                        "                max_attributes: 3, versions: [v1]}\n"
                        "models: [{id: a, versions: []}]\n",
                        "t.yaml"));
  EXPECT_EQ(config.default_model.monitors.fairness.max_groups, 10u);
  EXPECT_EQ(config.default_model.monitors.fairness.min_group_size, 5u);
  EXPECT_EQ(config.default_model.monitors.max_attributes, 3u);
  EXPECT_THAT(config.default_model.versions, ElementsAre("v1"));
  EXPECT_THAT(config.models[0].versions, IsEmpty());
  EXPECT_EQ(config.models[0].monitors.fairness.max_groups, 10u);
  EXPECT_THAT(
      ErrorOf(ParseServerConfig("default_model: {max_groups: -1}\n", "t.yaml")),
      HasSubstr("max_groups"));
}

TEST(ConfigTest, ValidateChecksStructsBuiltInCode) {
  ServerConfig config;
  EXPECT_OK(config.Validate());
  config.expiry_sweep_interval = absl::ZeroDuration();
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = ServerConfig();
  config.models.push_back(ModelConfig());
  EXPECT_THAT(config.Validate().message(), HasSubstr("no id"));
  config.models[0].id = "m";
  config.models[0].label_delay = absl::ZeroDuration();
  EXPECT_THAT(config.Validate().message(),
              AllOf(HasSubstr("model m"), HasSubstr("label_delay")));
  config.models[0].label_delay = absl::Hours(1);
  config.models[0].pane_length = absl::Hours(24 * 367);
  EXPECT_THAT(config.Validate().message(), HasSubstr("pane_length"));

  config = ServerConfig();
  config.checkpoint_interval = absl::InfiniteDuration();
  EXPECT_THAT(config.Validate().message(), HasSubstr("checkpoint_interval"));
  config = ServerConfig();
  config.checkpoint_bytes = uint64_t{4} << 30;
  EXPECT_OK(config.Validate());
  config.checkpoint_bytes = (uint64_t{4} << 30) + 1;
  EXPECT_THAT(config.Validate().message(),
              HasSubstr("checkpoint_bytes must be in [1MiB, 4GiB], got "
                        "4294967297"));
  config = ServerConfig();
  config.block_cache_bytes = 0;
  EXPECT_THAT(config.Validate().message(),
              HasSubstr("storage.block_cache must be in [1MiB, 64GiB], got 0"));
  config = ServerConfig();
  config.write_buffer_bytes = std::numeric_limits<uint64_t>::max();
  EXPECT_THAT(config.Validate().message(),
              HasSubstr("storage.write_buffer must be in [4MiB, 64GiB], got "
                        "18446744073709551615"));
}

}  // namespace
}  // namespace vigie::services
