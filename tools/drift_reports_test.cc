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
