#include "tools/printing.h"

#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tools/reports.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(PrintingTest, FormatCountGroupsThousands) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1'000), "1,000");
  EXPECT_EQ(FormatCount(1'234'567), "1,234,567");
}

TEST(PrintingTest, FormatProgress) {
  StreamProgress p;
  p.records_read = 3'500;
  p.total_records = 7'214;
  p.events_sent = 7'000;
  p.elapsed = absl::Milliseconds(500);
  // 3500 / 7214 = 48.5%, floored; 7000 events / 0.5 s.
  EXPECT_EQ(FormatProgress("replayed", "rows", p),
            "replayed 3,500 / 7,214 rows (48%), 14,000 events/s");
  p.total_records = 0;
  EXPECT_EQ(FormatProgress("replayed", "rows", p),
            "replayed 3,500 rows, 14,000 events/s");
}

int CountOf(const std::string& text, char c) {
  return static_cast<int>(std::count(text.begin(), text.end(), c));
}

TEST(ProgressPrinterTest, PrintsEveryTenPercentWhenNotATerminal) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*terminal=*/false, "replayed", "rows");
  StreamProgress p;
  p.total_records = 1'000;
  for (int i = 1; i <= 40; ++i) {  // 2.5% steps, 0.1 s apart.
    p.records_read = static_cast<uint64_t>(25 * i);
    p.elapsed = absl::Milliseconds(100 * i);
    printer.Update(p);
  }
  printer.Finish(p);
  EXPECT_EQ(CountOf(out.str(), '\n'), 10) << out.str();
  EXPECT_EQ(CountOf(out.str(), '\r'), 0);
}

TEST(ProgressPrinterTest, RedrawsAtMostEveryHalfSecondOnATerminal) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*terminal=*/true, "simulated", "events");
  StreamProgress p;
  p.total_records = 1'000;
  for (int i = 0; i <= 20; ++i) {  // 0 to 2 s, every 0.1 s.
    p.records_read = static_cast<uint64_t>(50 * i);
    p.elapsed = absl::Milliseconds(100 * i);
    printer.Update(p);
  }
  printer.Finish(p);
  // At 0, 0.5, 1, 1.5 and 2 s; Finish adds only the newline.
  EXPECT_EQ(CountOf(out.str(), '\r'), 5) << out.str();
  EXPECT_EQ(CountOf(out.str(), '\n'), 1);
}

TEST(PrintingTest, SummaryMapsServerIndicesToLinesAndTruncates) {
  StreamResult result;
  result.records_read = 40;
  result.events_sent = 30;
  // Event i came from line i + 2 (line 1 is a header).
  for (int64_t i = 0; i < 30; ++i) result.event_lines.push_back(i + 2);
  result.malformed.push_back(
      {35, v1::REJECT_REASON_MALFORMED, "missing value in column 'x'", "a35"});
  for (uint64_t i = 0; i < 22; ++i) {
    v1::Rejection* r = result.reply.add_rejections();
    r->set_index(i);
    r->set_reason(v1::REJECT_REASON_INVALID_SCORE);
    r->set_message("score must be in [0, 1], got 1.7");
  }
  result.reply.set_rejected(22);
  result.reply.set_accepted(8);
  std::ostringstream out;
  PrintStreamSummary(result, "rows", "line", /*max_listed=*/20, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("rows read:   40\n"));
  EXPECT_THAT(text,
              HasSubstr("rejected:    23 (1 by the client, 22 by the server)"));
  EXPECT_THAT(text, HasSubstr("  INVALID_SCORE  22\n  MALFORMED      1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("  line 2: INVALID_SCORE: score must be in [0, 1], got 1.7\n"));
  EXPECT_THAT(text, HasSubstr("  line 21: INVALID_SCORE"));
  EXPECT_THAT(text, Not(HasSubstr("line 22:")));
  EXPECT_THAT(text, HasSubstr("  ... and 3 more\n"));
}

TEST(ReportsTest, MetricsTextShowsAbsentRatesAndExcludedGroups) {
  v1::GetMetricsReply reply;
  reply.set_model_id("compas");
  reply.set_panes(2);
  v1::AttributeFairness* a = reply.add_fairness();
  a->set_attribute("race");
  v1::GroupMetrics* big = a->add_groups();
  big->set_group("African-American");
  big->set_predictions(3'696);
  big->set_labeled(3'696);
  big->set_included_in_gaps(true);
  big->set_selection_rate(0.5877);
  big->set_true_positive_rate(0.72);
  v1::GroupMetrics* small = a->add_groups();
  small->set_group("Asian");
  small->set_predictions(32);
  a->mutable_true_positive_rate_difference()->set_value(0.27);
  a->mutable_true_positive_rate_difference()->set_high_group(
      "African-American");
  a->mutable_true_positive_rate_difference()->set_low_group("Caucasian");
  std::ostringstream out;
  PrintMetricsText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("African-American"));
  EXPECT_THAT(text, HasSubstr("3,696"));
  EXPECT_THAT(text, HasSubstr("0.588"));
  EXPECT_THAT(text, HasSubstr("Asian *"));
  EXPECT_THAT(text, HasSubstr("—"));
  EXPECT_THAT(text, HasSubstr("left out of the gaps"));
  EXPECT_THAT(text, HasSubstr("0.270  high African-American, low Caucasian"));
}

TEST(ReportsTest, MetricsTextShowsCriteriaAndDisparateImpact) {
  v1::GetMetricsReply reply;
  v1::AttributeFairness* a = reply.add_fairness();
  a->set_attribute("race");
  a->set_reference_group("Caucasian");
  v1::Criterion* parity = a->add_criteria();
  parity->set_name("demographic_parity");
  parity->mutable_difference()->set_value(0.25);
  parity->mutable_difference()->mutable_test()->set_test("fisher_exact");
  parity->mutable_difference()->mutable_test()->set_p_value(0.0123);
  parity->mutable_ratio()->set_value(0.6);
  v1::GroupGap* aa = parity->add_by_group();
  aa->set_group("African-American");
  aa->set_ratio_to_reference(1.5);
  std::ostringstream out;
  PrintMetricsText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("demographic_parity"));
  EXPECT_THAT(text, HasSubstr("0.012"));
  EXPECT_THAT(text, HasSubstr("fisher_exact"));
  EXPECT_THAT(text, HasSubstr("0.600"));
  EXPECT_THAT(text, HasSubstr("disparate impact against Caucasian: "
                              "African-American 1.500"));
}

TEST(ReportsTest, MetricsTextShowsCalibrationAndClasses) {
  v1::GetMetricsReply reply;
  reply.set_model_id("triage");
  v1::ClassFairness* high = reply.add_fairness_by_class();
  high->set_class_label("high");
  high->add_fairness()->set_attribute("sex");
  v1::Calibration* c = reply.mutable_calibration();
  c->set_count(2'500);
  c->set_ece(0.0812);
  c->set_null_ece_p95(0.0335);
  v1::CalibrationBin* bin = c->add_bins();
  bin->set_lower(0.0);
  bin->set_upper(0.5);
  bin->set_count(1'200);
  bin->set_mean_predicted(0.25);
  bin->set_observed_frequency(0.3);
  bin->set_observed_lower(0.27);
  bin->set_observed_upper(0.33);
  c->add_bins()->set_lower(0.5);  // Empty: omitted.
  v1::GroupCalibration* g = reply.add_calibration_by_group();
  g->set_attribute("sex");
  g->set_group("f");
  g->mutable_calibration()->set_count(1'000);
  std::ostringstream out;
  PrintMetricsText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("class high against the rest:"));
  EXPECT_THAT(text, HasSubstr("calibration (2,500 labelled"));
  EXPECT_THAT(text, HasSubstr("0.0812"));
  EXPECT_THAT(text, HasSubstr("0.0335"));
  EXPECT_THAT(text, HasSubstr("sex=f"));
  EXPECT_THAT(text, HasSubstr("[0.000, 0.500)"));
  EXPECT_THAT(text, HasSubstr("[0.2700, 0.3300]"));
  EXPECT_THAT(text, Not(HasSubstr("[0.500, 0.000)")));
}

TEST(ReportsTest, MetricsTextHeaderShowsTheResolvedSlidingWindow) {
  v1::GetMetricsReply reply;
  reply.set_model_id("demo");
  reply.set_panes(2);
  // 2026-01-05T22:00:00Z to 2026-01-06T00:00:00Z.
  reply.mutable_window()->mutable_start()->set_seconds(1'767'571'200 + 79'200);
  reply.mutable_window()->mutable_end()->set_seconds(1'767'571'200 + 86'400);
  std::ostringstream sliding;
  PrintMetricsText(reply, sliding, absl::Hours(2));
  EXPECT_THAT(sliding.str(),
              HasSubstr("model demo, last 2h: window [2026-01-05T22:00:00Z, "
                        "2026-01-06T00:00:00Z): 2 panes\n"));
  std::ostringstream fixed;
  PrintMetricsText(reply, fixed);
  EXPECT_THAT(fixed.str(),
              HasSubstr("model demo, window [2026-01-05T22:00:00Z, "
                        "2026-01-06T00:00:00Z): 2 panes\n"));
  // Model-wide: the replicas merged, and whose counters these are.
  reply.add_replicas("vigie-1");
  reply.add_replicas("vigie-2");
  std::ostringstream wide;
  PrintMetricsText(reply, wide);
  EXPECT_THAT(wide.str(),
              HasSubstr("2 panes; merged with replicas vigie-1, vigie-2\n"
                        "this replica's counters: "));
}

TEST(ReportsTest, AlertsTextCitesTheReferential) {
  std::ostringstream none;
  PrintAlertsText(v1::ListAlertsReply(), none);
  EXPECT_EQ(none.str(), "no alerts\n");

  v1::ListAlertsReply reply;
  v1::Alert* a = reply.add_alerts();
  a->set_rule_id("F3");
  a->set_model_id("demo");
  a->set_metric("equalized_odds_difference");
  (*a->mutable_scope())["attribute"] = "sex";
  a->set_severity(v1::SEVERITY_CRITICAL);
  a->set_state(v1::ALERT_STATE_FIRING);
  a->set_value(0.214);
  a->mutable_value_interval()->set_lower(0.19);
  a->mutable_value_interval()->set_upper(0.24);
  a->mutable_value_interval()->set_level(0.95);
  a->set_p_value(1e-9);
  a->set_threshold(0.1);
  a->set_comparison(">");
  a->set_referential("labelia-dsrc@v202301");
  a->set_element("Q2.4/2.4.d");
  a->add_related_elements("Q2.5");
  a->add_ai_act_articles("Art. 10");
  a->add_ai_act_articles("Art. 15");
  a->set_high_group("male");
  a->set_low_group("female");
  a->set_message("TPR gap between male and female");
  EXPECT_EQ(FormatCitation(*a),
            "labelia-dsrc@v202301 Q2.4/2.4.d (+Q2.5); AI Act Art. 10, Art. 15");
  std::ostringstream out;
  PrintAlertsText(reply, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("CRITICAL FIRING  F3 equalized_odds_difference  "
                              "model demo attribute=sex\n"));
  EXPECT_THAT(text,
              HasSubstr("value 0.214 (95% CI [0.19, 0.24]), p-value 1e-09; "
                        "threshold: value > 0.1"));
  EXPECT_THAT(text, HasSubstr("groups: high male, low female"));
  EXPECT_THAT(text, HasSubstr("citation: labelia-dsrc@v202301 Q2.4/2.4.d"));
}

TEST(ReportsTest, JsonRoundTrips) {
  v1::ListAlertsReply reply;
  reply.add_alerts()->set_rule_id("F3");
  ASSERT_OK_AND_ASSIGN(std::string json, ToJson(reply));
  EXPECT_THAT(json, HasSubstr("\"ruleId\": \"F3\""));
  v1::ListAlertsReply back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.alerts(0).rule_id(), "F3");
}

}  // namespace
}  // namespace vigie::tools
