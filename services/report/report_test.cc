#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/proto_time.h"
#include "services/report/html.h"
#include "services/report/report_data.h"
#include "services/report/report_links.h"
#include "services/report/report_page.h"

namespace vigie::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HtmlTest, EscapesAndFormats) {
  EXPECT_EQ(Escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(Count(0), "0");
  EXPECT_EQ(Count(999), "999");
  EXPECT_EQ(Count(1000), "1,000");
  EXPECT_EQ(Count(12345), "12,345");
  EXPECT_EQ(Count(1234567), "1,234,567");
  EXPECT_EQ(Number(0.41234), "0.412");
  EXPECT_EQ(Number(std::nullopt), "—");
  EXPECT_EQ(Percent(0.9), "90.0%");
}

TEST(LinksTest, PercentEncodesTheModelIdAndDecodesItBack) {
  EXPECT_EQ(ModelReportPath("credit-v2_eu.1"), "/models/credit-v2_eu.1");
  EXPECT_EQ(ModelReportPath("a b/c?"), "/models/a%20b%2Fc%3F");
  EXPECT_EQ(ModelReportUrl("http://vigie:9464/", "m"),
            "http://vigie:9464/models/m");
  std::string decoded;
  ASSERT_TRUE(DecodePathSegment("a%20b%2Fc%3f", &decoded));
  EXPECT_EQ(decoded, "a b/c?");
  EXPECT_FALSE(DecodePathSegment("a%2", &decoded));
  EXPECT_FALSE(DecodePathSegment("a%zz", &decoded));
  EXPECT_FALSE(DecodePathSegment("%", &decoded));
}

TEST(PeriodForTest, TheShortestLengthThatFitsTheSpan) {
  EXPECT_EQ(PeriodFor(absl::Hours(20), 30), absl::Hours(1));
  EXPECT_EQ(PeriodFor(absl::Hours(30), 30), absl::Hours(1));
  EXPECT_EQ(PeriodFor(absl::Hours(31), 30), absl::Hours(6));
  EXPECT_EQ(PeriodFor(absl::Hours(24 * 20), 30), absl::Hours(24));
  EXPECT_EQ(PeriodFor(absl::Hours(24 * 400), 30), absl::Hours(24 * 30));
}

google::protobuf::Timestamp Ts(absl::Time t) { return ToTimestamp(t); }

// A fake of the API: every model has panes of one hour over [start, end),
// each with `per_pane` predictions; a window holds the panes whose start
// lies in it.
struct FakeApi {
  absl::Time start = absl::FromUnixSeconds(1'767'225'600);  // 2026-01-01.
  absl::Time end = start + absl::Hours(48);
  std::vector<v1::GetMetricsRequest> requests;

  ReportQueries Queries() {
    ReportQueries q;
    q.metrics = [this](const v1::GetMetricsRequest& r)
        -> absl::StatusOr<v1::GetMetricsReply> {
      requests.push_back(r);
      if (r.model_id() != "credit") return absl::NotFoundError("no model");
      absl::Time from = start, to = end;
      if (r.window().has_start()) {
        from = std::max(from, FromTimestamp(r.window().start()));
      }
      if (r.window().has_end()) {
        to = std::min(to, FromTimestamp(r.window().end()));
      }
      v1::GetMetricsReply reply;
      reply.set_model_id(r.model_id());
      const int64_t panes =
          to > from ? absl::Ceil(to - from, absl::Hours(1)) / absl::Hours(1)
                    : 0;
      reply.set_panes(panes);
      if (panes > 0) {
        *reply.mutable_covered()->mutable_start() = Ts(from);
        *reply.mutable_covered()->mutable_end() = Ts(from + absl::Hours(panes));
      }
      reply.mutable_counters()->set_predictions(1234);
      return reply;
    };
    q.alerts = [](const v1::ListAlertsRequest& r)
        -> absl::StatusOr<v1::ListAlertsReply> {
      v1::ListAlertsReply reply;
      for (int i = 0; i < 30; ++i) {
        v1::Alert* a = reply.add_alerts();
        a->set_model_id(r.model_id());
        a->set_rule_id(absl::StrCat("X", i));
        a->set_state(i < 2 ? v1::ALERT_STATE_FIRING : v1::ALERT_STATE_RESOLVED);
      }
      return reply;
    };
    return q;
  }
};

TEST(GatherReportTest, CurrentWindowAndPeriodsEndAtTheLatestPane) {
  FakeApi api;
  ReportOptions options;  // One day current; at most 30 periods.
  absl::StatusOr<ReportData> data =
      GatherReport(api.Queries(), "credit", options, api.end);
  ASSERT_TRUE(data.ok()) << data.status();
  // 48 h kept: 30 periods of 1 h do not cover it, 6 h periods do (8).
  EXPECT_EQ(data->period_length, absl::Hours(6));
  ASSERT_EQ(data->series.size(), 8u);
  EXPECT_EQ(data->series.front().start, api.start);
  EXPECT_EQ(data->series.back().end, api.end);
  for (const Period& p : data->series) EXPECT_EQ(p.metrics.panes(), 6u);
  // The current window: the last 24 h, so 24 panes.
  EXPECT_EQ(data->current.panes(), 24u);
  EXPECT_EQ(FromTimestamp(data->current.covered().start()),
            api.end - absl::Hours(24));
  // Open alerts all, closed ones up to 20.
  EXPECT_EQ(data->alerts.alerts_size(), 22);
  // One all-time query, one current, one per period.
  EXPECT_EQ(api.requests.size(), 1u + 1u + 8u);
}

TEST(GatherReportTest, AnUnknownModelIsNotFound) {
  FakeApi api;
  EXPECT_EQ(GatherReport(api.Queries(), "nope", {}, api.end).status().code(),
            absl::StatusCode::kNotFound);
}

// A report whose numbers the test sets, to find on the page.
ReportData FairnessReport() {
  ReportData data;
  data.model_id = "credit<1>";
  data.generated_at = absl::FromUnixSeconds(1'767'225'600);
  data.current_length = absl::Hours(24);
  data.period_length = absl::Hours(1);
  data.all.set_panes(2);
  data.all.mutable_counters()->set_predictions(12345);
  auto* fairness = data.current.add_fairness();
  fairness->set_attribute("region");
  const std::pair<const char*, std::pair<int, int>> groups[] = {
      {"north", {40, 100}}, {"south", {15, 60}}};
  for (const auto& [name, counts] : groups) {
    v1::GroupMetrics* g = fairness->add_groups();
    g->set_group(name);
    g->set_predictions(counts.second);
    g->set_selected(counts.first);
    g->set_selection_rate(static_cast<double>(counts.first) / counts.second);
    g->set_included_in_gaps(true);
  }
  fairness->mutable_demographic_parity_difference()->set_value(0.4 - 0.25);
  fairness->mutable_demographic_parity_difference()->set_high_group("north");
  fairness->mutable_demographic_parity_difference()->set_low_group("south");
  for (int h = 0; h < 3; ++h) {
    Period p;
    p.start = data.generated_at - absl::Hours(3 - h);
    p.end = p.start + absl::Hours(1);
    *p.metrics.add_fairness() = *fairness;
    p.metrics.set_panes(1);
    data.series.push_back(p);
  }
  return data;
}

TEST(RenderReportPageTest, ShowsFiguresWithSampleSizesAndAFineVerdict) {
  const std::string page = RenderReportPage(FairnessReport());
  EXPECT_THAT(page, HasSubstr("<!DOCTYPE html>"));
  // The model id as sent is escaped, never raw.
  EXPECT_THAT(page, HasSubstr("Model credit&lt;1&gt;"));
  EXPECT_THAT(page, Not(HasSubstr("credit<1>")));
  EXPECT_THAT(page, HasSubstr("12,345"));
  // 40/100 and 15/60 selected: 0.4 and 0.25, a gap of 0.15.
  EXPECT_THAT(page, HasSubstr("<td>north</td><td>100</td>"));
  EXPECT_THAT(page, HasSubstr("<td>0.4</td>"));
  EXPECT_THAT(page, HasSubstr("<td>0.25</td>"));
  EXPECT_THAT(page, HasSubstr("a gap of 0.15"));
  EXPECT_THAT(page, HasSubstr("class=\"verdict fine\""));
  EXPECT_THAT(page, Not(HasSubstr("class=\"verdict attention\"")));
  // No script, no external asset.
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr("src=")));
  EXPECT_THAT(page, Not(HasSubstr("href=\"http")));
  // One selection-rate line per group, three points each.
  EXPECT_THAT(page, HasSubstr("north: 0.4 of 100 predictions"));
}

TEST(RenderReportPageTest, SmallGroupsSayFewerThanKAndShowNoFigure) {
  ReportData data = FairnessReport();
  data.current.set_min_reported_group_size(10);
  v1::GroupMetrics* tiny = data.current.mutable_fairness(0)->add_groups();
  tiny->set_group("islands");
  tiny->set_suppressed(true);
  v1::GroupMetrics* few = data.current.mutable_fairness(0)->add_groups();
  few->set_group("east");
  few->set_predictions(70);
  few->set_selection_rate(0.5);
  few->set_outcomes_suppressed(true);
  few->set_included_in_gaps(true);
  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, HasSubstr("<td>islands</td><td>fewer than 10</td><td>"
                              "fewer than 10</td>"));
  EXPECT_THAT(page,
              HasSubstr("<td>east</td><td>70</td><td>fewer than 10</td>"));
}

TEST(RenderReportPageTest, AFiringAlertSaysWhatAndCitesItsCommitment) {
  ReportData data = FairnessReport();
  v1::Alert* alert = data.alerts.add_alerts();
  alert->set_rule_id("F2");
  alert->set_metric("demographic_parity_difference");
  (*alert->mutable_scope())["attribute"] = "region";
  alert->set_severity(v1::SEVERITY_WARNING);
  alert->set_state(v1::ALERT_STATE_FIRING);
  alert->set_value(0.15);
  alert->set_threshold(0.1);
  alert->set_comparison(">");
  alert->set_referential("labelia-dsrc@v202301");
  alert->set_element("Q2.4/2.4.d");
  alert->add_ai_act_articles("Art. 10");
  alert->set_summary("selection rates differ by region <b>");
  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, HasSubstr("1 alert is firing"));
  EXPECT_THAT(page, HasSubstr("class=\"verdict attention\""));
  EXPECT_THAT(page,
              HasSubstr("labelia-dsrc@v202301 Q2.4/2.4.d; AI Act Art. 10"));
  EXPECT_THAT(page, HasSubstr("selection rates differ by region &lt;b&gt;"));
  // The open alert's threshold is drawn on the gap chart.
  EXPECT_THAT(page, HasSubstr("F2 warning 0.1"));
}

TEST(RenderReportPageTest, SaysWhatIsMissingInsteadOfEmptyCharts) {
  ReportData data;
  data.model_id = "new";
  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, HasSubstr("No event has arrived for this model yet."));
  EXPECT_THAT(page, HasSubstr("No group attribute has been monitored"));
  EXPECT_THAT(page, HasSubstr("has no reference yet"));
  EXPECT_THAT(page, HasSubstr("No prediction with a probability"));
}

TEST(RenderReportPageTest, DriftPerFeatureWithTheDriftedOnesMarked) {
  ReportData data = FairnessReport();
  data.current.mutable_reference()->set_version(3);
  data.current.mutable_reference()->set_predictions(5000);
  const std::pair<const char*, double> features[] = {
      {"income", 0.31}, {"age", 0.04}, {"@prediction", 0.02}};
  for (const auto& [name, js] : features) {
    v1::FeatureDrift* f = data.current.add_drift();
    f->set_feature(name);
    f->set_jensen_shannon(js);
    f->set_drifted(js > 0.1);
    f->set_current_count(700);
    f->set_reference_count(5000);
    f->set_method("wasserstein");
  }
  // Two periods: one of 3 signals drifted in the first, none in the second.
  data.series[0].metrics = data.current;
  data.series[1].metrics = data.current;
  for (auto& f : *data.series[1].metrics.mutable_drift()) f.set_drifted(false);
  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, HasSubstr("1 of 3 monitored signals drifted"));
  EXPECT_THAT(page, HasSubstr("0.31 (drifted)"));
  EXPECT_THAT(page, HasSubstr("<td>the prediction</td><td>700</td>"));
  EXPECT_THAT(page, HasSubstr("Reference: version 3"));
  EXPECT_THAT(page, HasSubstr("1 of 3 drifted"));
  EXPECT_THAT(page, HasSubstr("0 of 3 drifted"));
}

TEST(RenderReportPageTest, CoverageAgainstThePromisedLevel) {
  ReportData data = FairnessReport();
  v1::ConformalCoverage* overall =
      data.current.mutable_conformal()->mutable_overall();
  // 171 of 200 covered, against 90% promised.
  overall->set_count(200);
  overall->set_covered(171);
  overall->set_coverage(171.0 / 200);
  overall->mutable_gate()->set_alpha(0.1);
  v1::AttributeConformal* region =
      data.current.mutable_conformal()->add_by_attribute();
  region->set_attribute("region");
  v1::ConformalCoverage* south = region->add_groups();
  south->set_group("south");
  south->set_count(80);
  south->set_coverage(60.0 / 80);
  // The chart over time: one period with the same coverage.
  *data.series[0].metrics.mutable_conformal() = data.current.conformal();
  v1::Alert* alert = data.alerts.add_alerts();
  alert->set_rule_id("K3");
  alert->set_metric("group_conformal_coverage");
  alert->set_severity(v1::SEVERITY_CRITICAL);
  alert->set_state(v1::ALERT_STATE_FIRING);
  alert->set_element("Q4.2");
  const std::string page = RenderReportPage(data);
  EXPECT_THAT(page, HasSubstr("85.5% of 200 prediction intervals or sets held "
                              "the true outcome, against the 90.0% promised"));
  EXPECT_THAT(page, HasSubstr("<td>region = south</td><td>80</td><td>75.0%"));
  EXPECT_THAT(page, HasSubstr("promised 90.0%"));
  const size_t coverage = page.find("id=\"coverage\"");
  ASSERT_NE(coverage, std::string::npos);
  EXPECT_NE(page.find("<b>K3</b>", coverage), std::string::npos);
}

TEST(RenderIndexPageTest, LinksEveryModel) {
  const std::string page =
      RenderIndexPage({"a", "b c"}, absl::FromUnixSeconds(0));
  EXPECT_THAT(page, HasSubstr("<a href=\"/models/a\">a</a>"));
  EXPECT_THAT(page, HasSubstr("<a href=\"/models/b%20c\">b c</a>"));
}

}  // namespace
}  // namespace vigie::report
