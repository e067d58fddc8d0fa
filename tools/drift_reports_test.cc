#include "tools/drift_reports.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tools/reports.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 2026-01-05T00:00:00Z.
constexpr int64_t kJan5 = 1'767'571'200;

v1::FeatureProfile NumericProfile() {
  v1::FeatureProfile x;
  x.set_feature("x");
  x.set_kind("numeric");
  x.set_count(1'000);
  x.set_min(-2.5);
  x.set_max(3.25);
  x.set_mean(0.125);
  x.set_stddev(1);
  for (const char* label : {"< -2.5", "-2.5 to 0.1", "0.1 to 3.25", "> 3.25"}) {
    x.add_bin_labels(label);
  }
  for (double p : {0.0, 0.5, 0.5, 0.0}) x.add_proportions(p);
  return x;
}

v1::FeatureProfile CategoricalProfile() {
  v1::FeatureProfile c;
  c.set_feature("c");
  c.set_kind("categorical");
  c.set_count(990);
  c.set_missing_rate(0.01);
  c.add_bin_labels("a");
  c.add_bin_labels("other");
  c.add_proportions(0.6);
  c.add_proportions(0.4);
  return c;
}

TEST(DriftReportsTest, UploadLocatesRejectionsAndSummarizesProfiles) {
  v1::ReferenceInfo info;
  info.set_model_id("credit");
  info.set_version(2);
  info.set_source("upload: validation set");
  info.set_predictions(1'000);
  info.set_labels(990);
  info.set_rejected(3);
  info.add_rejections(
      "event 0: INVALID_SCORE: score must be in [0, 1], got 1.7");
  info.add_rejections("event 5: no prediction 'p9' in this upload");
  *info.add_features() = NumericProfile();
  *info.add_features() = CategoricalProfile();
  std::ostringstream out;
  PrintReferenceUploadText(info, /*event_lines=*/{2, 3, 4, 5, 6, 7}, out);
  EXPECT_EQ(
      out.str(),
      "uploaded reference v2 of model credit: 1,000 predictions, 990 labels\n"
      "source: upload: validation set\n"
      "rejected: 3 of 6 events\n"
      "  line 2: INVALID_SCORE: score must be in [0, 1], got 1.7\n"
      "  line 7: no prediction 'p9' in this upload\n"
      "  ... and 1 more\n"
      "features ('vigiectl reference show' lists their bins):\n"
      "  feature  kind         count  missing   min   max   mean  stddev  "
      "bins\n"
      "  x        numeric      1,000    0.000  -2.5  3.25  0.125       1  "
      "   4\n"
      "  c        categorical    990    0.010     —     —      —       —  "
      "   2\n");
}

TEST(DriftReportsTest, ShowPrintsEachFeaturesBins) {
  v1::ReferenceInfo info;
  info.set_model_id("credit");
  info.set_version(1);
  info.set_source("upload: validation set");
  info.mutable_created_at()->set_seconds(kJan5);
  info.set_predictions(1'000);
  info.set_labels(1'000);
  *info.add_features() = NumericProfile();
  *info.add_features() = CategoricalProfile();
  std::ostringstream out;
  PrintReferenceText(info, out);
  EXPECT_EQ(out.str(),
            "reference v1 of model credit\n"
            "  source:  upload: validation set\n"
            "  created: 2026-01-05T00:00:00Z\n"
            "  counts:  1,000 predictions, 1,000 labels\n"
            "\n"
            "x (numeric): 1,000 values, missing rate 0.000, min -2.5, max "
            "3.25, mean 0.125, stddev 1\n"
            "  bin          proportion\n"
            "  < -2.5           0.0000\n"
            "  -2.5 to 0.1      0.5000\n"
            "  0.1 to 3.25      0.5000\n"
            "  > 3.25           0.0000\n"
            "\n"
            "c (categorical): 990 values, missing rate 0.010\n"
            "  bin    proportion\n"
            "  a          0.6000\n"
            "  other      0.4000\n");
}

TEST(DriftReportsTest, ShowGivesTheWindowOfAFrozenReference) {
  v1::ReferenceInfo info;
  info.set_model_id("credit");
  info.set_version(1);
  info.set_source("window");
  info.mutable_window()->mutable_start()->set_seconds(kJan5);
  info.mutable_window()->mutable_end()->set_seconds(kJan5 + 86'400);
  std::ostringstream out;
  PrintReferenceText(info, out);
  EXPECT_THAT(out.str(), HasSubstr("  source:  window\n"
                                   "  window:  [2026-01-05T00:00:00Z, "
                                   "2026-01-06T00:00:00Z)\n"
                                   "  counts:  0 predictions, 0 labels\n"));
  EXPECT_THAT(out.str(), Not(HasSubstr("created")));
}

v1::GetMetricsReply DriftedReply() {
  v1::GetMetricsReply reply;
  reply.set_model_id("credit");
  reply.mutable_reference()->set_version(1);
  reply.mutable_reference()->set_source("upload: validation set");
  v1::FeatureDrift* x = reply.add_drift();
  x->set_feature("x");
  x->set_kind("numeric");
  x->set_current_count(2'000);
  x->set_method("ks");
  x->set_statistic(0.2011);
  x->set_p_value(1.2e-9);
  x->set_ks_statistic(0.2011);
  x->set_ks_p_value(1.2e-9);
  x->set_psi(0.2134);
  x->set_jensen_shannon(0.1002);
  x->set_out_of_range_rate(0.02);
  x->set_drifted(true);
  v1::FeatureDrift* c = reply.add_drift();
  c->set_feature("c");
  c->set_kind("categorical");
  c->set_current_count(2'000);
  c->set_method("chi_square");
  c->set_statistic(1.5);
  c->set_p_value(0.47);
  c->set_psi(0.0012);
  c->set_jensen_shannon(0.0101);
  c->set_missing_rate(0.005);
  v1::FeatureDrift* prediction = reply.add_drift();
  prediction->set_feature("@prediction");
  prediction->set_kind("numeric");
  prediction->set_current_count(2'000);
  prediction->set_method("wasserstein");
  prediction->set_statistic(0.03);
  prediction->set_psi(0.004);
  prediction->set_jensen_shannon(0.002);
  v1::ConceptDrift* concept_drift = reply.mutable_concept_drift();
  concept_drift->set_errors_observed(2'000);
  concept_drift->set_adwin_changes(1);
  concept_drift->set_page_hinkley_changes(2);
  concept_drift->set_ddm_changes(1);
  concept_drift->set_adwin_width(850);
  concept_drift->set_adwin_mean(0.2345);
  concept_drift->set_ddm_state("drift");
  concept_drift->add_changes()->set_seconds(kJan5 + 3'600);
  concept_drift->add_changes()->set_seconds(kJan5 + 6 * 3'600);
  return reply;
}

TEST(DriftReportsTest, DriftLinePerFeatureAndConceptDrift) {
  std::ostringstream out;
  PrintDriftText(DriftedReply(), out);
  EXPECT_EQ(out.str(),
            "\n"
            "drift against reference v1 (upload: validation set)\n"
            "  feature      method       count  statistic  p-value     PSI   "
            "   JS  missing  out of range  verdict\n"
            "  x            ks           2,000     0.2011  1.2e-09  0.2134  "
            "0.1002    0.000         0.020  DRIFTED\n"
            "  c            chi_square   2,000     1.5000     0.47  0.0012  "
            "0.0101    0.005         0.000  ok\n"
            "  @prediction  wasserstein  2,000     0.0300        —  0.0040  "
            "0.0020    0.000         0.000  ok\n"
            "\n"
            "concept drift: 2,000 errors observed; changes: ADWIN 1, "
            "Page-Hinkley 2, DDM 1 (DDM state drift); ADWIN window 850 "
            "errors, mean error 0.2345; latest ADWIN change at "
            "2026-01-05T06:00:00Z\n");
}

TEST(DriftReportsTest, NothingWithoutDriftOrErrors) {
  std::ostringstream out;
  PrintDriftText(v1::GetMetricsReply(), out);
  EXPECT_EQ(out.str(), "");
}

TEST(DriftReportsTest, ConceptDriftAloneWithoutAReference) {
  v1::GetMetricsReply reply;
  reply.mutable_concept_drift()->set_errors_observed(10);
  reply.mutable_concept_drift()->set_adwin_width(10);
  reply.mutable_concept_drift()->set_adwin_mean(0.1);
  std::ostringstream out;
  PrintDriftText(reply, out);
  EXPECT_EQ(out.str(),
            "\n"
            "concept drift: 10 errors observed; changes: ADWIN 0, "
            "Page-Hinkley 0, DDM 0; ADWIN window 10 errors, mean error "
            "0.1000\n");
}

TEST(DriftReportsTest, MetricsTextEndsWithTheDriftSection) {
  std::ostringstream out;
  PrintMetricsText(DriftedReply(), out);
  EXPECT_THAT(out.str(),
              HasSubstr("drift against reference v1 (upload: validation "
                        "set)\n  feature "));
  EXPECT_THAT(out.str(), HasSubstr("concept drift: 2,000 errors observed"));
}

TEST(DriftReportsTest, MetricsJsonCarriesDriftReferenceAndConceptDrift) {
  ASSERT_OK_AND_ASSIGN(std::string json, ToJson(DriftedReply()));
  EXPECT_THAT(json, HasSubstr("\"drift\": ["));
  EXPECT_THAT(json, HasSubstr("\"jensenShannon\": 0.1002"));
  EXPECT_THAT(json, HasSubstr("\"ksPValue\": 1.2e-09"));
  EXPECT_THAT(json, HasSubstr("\"outOfRangeRate\": 0.02"));
  EXPECT_THAT(json, HasSubstr("\"drifted\": true"));
  EXPECT_THAT(json, HasSubstr("\"source\": \"upload: validation set\""));
  EXPECT_THAT(json, HasSubstr("\"conceptDrift\": {"));
  EXPECT_THAT(json, HasSubstr("\"adwinChanges\": \"1\""));
  EXPECT_THAT(json, HasSubstr("\"ddmState\": \"drift\""));
  EXPECT_THAT(json, HasSubstr("\"2026-01-05T06:00:00Z\""));
}

}  // namespace
}  // namespace vigie::tools
