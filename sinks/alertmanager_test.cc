#include "sinks/alertmanager.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/alertmanager_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::sinks {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
  out->set_nanos(0);
}

const absl::Time kStart = absl::FromUnixSeconds(1'767'225'600);  // 2026-01-01

vigie::v1::Alert FiringAlert() {
  vigie::v1::Alert alert;
  alert.set_fingerprint("e6bab5bd47f83e44");
  alert.set_rule_id("F3");
  alert.set_model_id("compas");
  alert.set_metric("equalized_odds_difference");
  (*alert.mutable_scope())["attribute"] = "race";
  alert.set_severity(vigie::v1::SEVERITY_CRITICAL);
  alert.set_state(vigie::v1::ALERT_STATE_FIRING);
  alert.set_value(0.2);
  alert.mutable_value_interval()->set_lower(0.17);
  alert.mutable_value_interval()->set_upper(0.23);
  alert.mutable_value_interval()->set_level(0.95);
  alert.set_p_value(1e-9);
  alert.set_threshold(0.1);
  alert.set_comparison(">");
  alert.set_threshold_source("Vigie default policy F3");
  vigie::v1::GroupSample* sample = alert.add_samples();
  sample->set_group("Caucasian");
  sample->set_predictions(2454);
  sample->set_positives(966);
  sample->set_negatives(1488);
  alert.add_excluded_groups("Asian");
  alert.set_referential("labelia-dsrc@v202301");
  alert.set_element("Q2.4/2.4.d");
  alert.add_related_elements("Q2.5");
  alert.add_ai_act_articles("Art. 10");
  alert.add_ai_act_articles("Art. 15");
  alert.set_message("equalized odds gap of 0.2 between ...");
  SetTime(kStart, alert.mutable_started_at());
  SetTime(kStart, alert.mutable_updated_at());
  return alert;
}

TEST(ToAlertmanagerTest, LabelsRouteAndAnnotationsDescribe) {
  AlertmanagerOptions options;
  options.url = "http://am:9093";
  options.external_url = "http://vigie:8080/";
  const absl::Time now = kStart + absl::Minutes(3);
  const auto out = ToAlertmanager(FiringAlert(), now, options);
  EXPECT_THAT(out.labels(), Contains(Pair("alertname", "VigieF3")));
  EXPECT_THAT(out.labels(), Contains(Pair("severity", "critical")));
  EXPECT_THAT(out.labels(), Contains(Pair("model", "compas")));
  EXPECT_THAT(out.labels(), Contains(Pair("rule", "F3")));
  EXPECT_THAT(out.labels(),
              Contains(Pair("metric", "equalized_odds_difference")));
  EXPECT_THAT(out.labels(), Contains(Pair("attribute", "race")));
  EXPECT_THAT(out.labels(), Contains(Pair("element", "Q2.4/2.4.d")));
  EXPECT_THAT(out.labels(),
              Contains(Pair("referential", "labelia-dsrc@v202301")));
  EXPECT_EQ(out.labels_size(), 8);
  const auto& a = out.annotations();
  EXPECT_EQ(a.at("summary"),
            "F3: equalized_odds_difference 0.2 > 0.1 (attribute race) on "
            "model compas");
  EXPECT_EQ(a.at("description"), "equalized odds gap of 0.2 between ...");
  EXPECT_EQ(a.at("interval"), "[0.17, 0.23] at 0.95");
  EXPECT_EQ(a.at("p_value"), "1e-09");
  EXPECT_EQ(a.at("threshold"), "> 0.1");
  EXPECT_EQ(a.at("ai_act_articles"), "Art. 10, Art. 15");
  EXPECT_EQ(a.at("related_elements"), "Q2.5");
  EXPECT_EQ(a.at("excluded_groups"), "Asian");
  EXPECT_EQ(a.at("samples"),
            "Caucasian: 2454 predictions, 966 positives, 1488 negatives");
  EXPECT_EQ(a.at("vigie_fingerprint"), "e6bab5bd47f83e44");
  EXPECT_EQ(out.starts_at(), "2026-01-01T00:00:00Z");
  // Firing: ends ends_after (5 min) from now unless sent again.
  EXPECT_EQ(out.ends_at(), "2026-01-01T00:08:00Z");
  EXPECT_EQ(out.generator_url(), "http://vigie:8080/models/compas");
  // An alert that carries its report page's link points there instead.
  vigie::v1::Alert linked = FiringAlert();
  linked.set_report_url("https://vigie.example/models/compas");
  EXPECT_EQ(ToAlertmanager(linked, now, options).generator_url(),
            "https://vigie.example/models/compas");
  EXPECT_FALSE(a.contains("baseline"));
  EXPECT_FALSE(a.contains("model_version"));

  // The rule's rendered summary, the model version and a relative
  // threshold's baseline, when the alert has them.
  vigie::v1::Alert rich = FiringAlert();
  rich.set_summary("compas v3: equalized odds gap 0.2");
  rich.set_model_version("v3");
  rich.set_baseline(0.04);
  rich.set_baseline_source("declared");
  const auto rich_out = ToAlertmanager(rich, now, options);
  EXPECT_EQ(rich_out.annotations().at("summary"),
            "compas v3: equalized odds gap 0.2");
  EXPECT_EQ(rich_out.annotations().at("model_version"), "v3");
  EXPECT_EQ(rich_out.annotations().at("baseline"), "0.04 (declared)");
  EXPECT_FALSE(rich_out.annotations().contains("acknowledged"));
  rich.set_acknowledged_by("ana");
  SetTime(kStart + absl::Minutes(2), rich.mutable_acknowledged_at());
  rich.set_acknowledgement_comment("retraining with the new sample");
  EXPECT_EQ(ToAlertmanager(rich, now, options).annotations().at("acknowledged"),
            "ana at 2026-01-01T00:02:00Z: retraining with the new sample");

  vigie::v1::Alert resolved = FiringAlert();
  resolved.set_state(vigie::v1::ALERT_STATE_RESOLVED);
  SetTime(kStart + absl::Minutes(1), resolved.mutable_resolved_at());
  EXPECT_EQ(ToAlertmanager(resolved, now, options).ends_at(),
            "2026-01-01T00:01:00Z");
}

TEST(ToAlertmanagerTest, JsonIsAnArrayOfAlertmanagerObjects) {
  AlertmanagerOptions options;
  options.url = "http://am:9093";
  const auto alert = ToAlertmanager(FiringAlert(), kStart, options);
  const std::string json = ToAlertmanagerJson({alert, alert});
  EXPECT_EQ(json.front(), '[');
  EXPECT_THAT(json, HasSubstr("\"startsAt\":\"2026-01-01T00:00:00Z\""));
  EXPECT_THAT(json, HasSubstr("\"endsAt\":"));
  EXPECT_THAT(json, HasSubstr("\"labels\":{"));
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseAlertmanagerJson(json));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1].labels().at("alertname"), "VigieF3");
  EXPECT_FALSE(ParseAlertmanagerJson("{not json").ok());
}

TEST(AlertmanagerOptionsTest, UrlMustBeHttp) {
  AlertmanagerOptions options;
  for (const char* bad :
       {"", "am:9093", "https://am:9093", "http://", "http:///x"}) {
    options.url = bad;
    EXPECT_FALSE(options.Validate().ok()) << bad;
  }
  options.url = "http://am:9093/prefix/";
  EXPECT_OK(options.Validate());
}

// Against a real Alertmanager: what it holds after each delivery, read
// back through its own API.
class RealAlertmanagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testutil::AlertmanagerProcess::Binary().empty()) {
      GTEST_SKIP() << testutil::AlertmanagerProcess::kNotInstalled;
    }
    ASSERT_OK_AND_ASSIGN(process_,
                         testutil::AlertmanagerProcess::Start(dir_.path()));
    AlertmanagerOptions options;
    options.url = process_->url();
    ASSERT_OK_AND_ASSIGN(sink_, AlertmanagerSink::Create(options));
  }

  // The active alerts' severities, sorted.
  std::vector<std::string> ActiveSeverities() {
    std::vector<std::string> severities;
    absl::StatusOr<std::vector<vigie::sinks::v1::AlertmanagerAlert>> listed =
        sink_->List();
    EXPECT_OK(listed.status());
    if (!listed.ok()) return severities;
    for (const auto& alert : *listed) {
      if (alert.status().state() == "active") {
        severities.push_back(alert.labels().at("severity"));
      }
    }
    std::sort(severities.begin(), severities.end());
    return severities;
  }

  testutil::TempDir dir_;
  std::unique_ptr<testutil::AlertmanagerProcess> process_;
  std::unique_ptr<AlertmanagerSink> sink_;
};

TEST_F(RealAlertmanagerTest, FiresEscalatesAndResolves) {
  const absl::Time now = absl::Now();
  vigie::v1::Alert alert = FiringAlert();
  alert.set_severity(vigie::v1::SEVERITY_WARNING);
  SetTime(now - absl::Seconds(10), alert.mutable_started_at());
  SetTime(now, alert.mutable_updated_at());
  ASSERT_OK(sink_->Deliver({alert}, now));
  ASSERT_OK_AND_ASSIGN(auto listed, sink_->List());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].labels().at("alertname"), "VigieF3");
  EXPECT_EQ(listed[0].labels().at("element"), "Q2.4/2.4.d");
  EXPECT_EQ(listed[0].annotations().at("ai_act_articles"), "Art. 10, Art. 15");
  EXPECT_EQ(ActiveSeverities(), std::vector<std::string>{"warning"});

  // Critical now: the warning's labels end as the critical's start.
  alert.set_severity(vigie::v1::SEVERITY_CRITICAL);
  ASSERT_OK(sink_->Deliver({alert}, now + absl::Seconds(1)));
  EXPECT_EQ(ActiveSeverities(), std::vector<std::string>{"critical"});

  // Resolved a moment ago (Alertmanager keeps the later of two endsAt
  // unless the new one is already past).
  alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
  SetTime(absl::Now() - absl::Seconds(1), alert.mutable_resolved_at());
  ASSERT_OK(sink_->Deliver({alert}, absl::Now()));
  // endsAt is the resolution time: Alertmanager no longer lists it active.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!ActiveSeverities().empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(ActiveSeverities().empty());
}

TEST_F(RealAlertmanagerTest, AnAlertmanagerThatIsDownIsUnavailable) {
  AlertmanagerOptions options;
  options.url = "http://127.0.0.1:1";  // Nothing listens on port 1.
  options.timeout = absl::Seconds(1);
  ASSERT_OK_AND_ASSIGN(auto down, AlertmanagerSink::Create(options));
  const absl::Status status = down->Deliver({FiringAlert()}, absl::Now());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("127.0.0.1:1"));
}

}  // namespace
}  // namespace vigie::sinks
