#include "rules/summary.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::rules {
namespace {

using ::testing::HasSubstr;

vigie::v1::Alert Breach() {
  vigie::v1::Alert alert;
  alert.set_rule_id("F3");
  alert.set_model_id("credit");
  alert.set_model_version("v7");
  alert.set_metric("equalized_odds_difference");
  (*alert.mutable_scope())["attribute"] = "race";
  alert.set_severity(vigie::v1::SEVERITY_CRITICAL);
  alert.set_state(vigie::v1::ALERT_STATE_FIRING);
  alert.set_value(0.123456);
  alert.set_threshold(0.1);
  alert.set_comparison(">");
  alert.mutable_value_interval()->set_lower(0.0612);
  alert.mutable_value_interval()->set_upper(0.142);
  alert.set_p_value(0.00042);
  alert.set_element("Q2.4/2.4.d");
  alert.add_ai_act_articles("Art. 10");
  alert.add_ai_act_articles("Art. 15");
  alert.mutable_window()->mutable_start()->set_seconds(1767225600);
  alert.mutable_window()->mutable_end()->set_seconds(1767830400);
  return alert;
}

TEST(SummaryTest, FillsEveryPlaceholder) {
  EXPECT_EQ(RenderSummary("{model} {model_version}: {metric} on {scope} = "
                          "{value} {comparison} {threshold} ({severity}, "
                          "{state}; CI {interval}, p {p_value}; {element}; "
                          "{ai_act_articles}; {window}) {{literal}}",
                          Breach()),
            "credit v7: equalized_odds_difference on race = 0.1235 > 0.1 "
            "(critical, firing; CI [0.0612, 0.1420], p 0.00042; Q2.4/2.4.d; "
            "Art. 10, Art. 15; 2026-01-01T00:00:00Z to 2026-01-08T00:00:00Z) "
            "{literal}");
}

TEST(SummaryTest, DefaultAndMissingValues) {
  vigie::v1::Alert alert = Breach();
  alert.clear_scope();
  alert.clear_value_interval();
  alert.clear_p_value();
  alert.clear_model_version();
  EXPECT_EQ(
      RenderSummary("{scope} {interval} {p_value} {model_version}", alert),
      "the model n/a n/a unknown");
  EXPECT_EQ(RenderSummary("", Breach()),
            "equalized_odds_difference of model credit for race is 0.1235: "
            "critical (> 0.1, rule F3, Q2.4/2.4.d)");
}

TEST(SummaryTest, ValidationNamesTheProblem) {
  EXPECT_TRUE(ValidateSummary("{model} is fine {{ok}}").ok());
  EXPECT_TRUE(ValidateSummary(kDefaultSummary).ok());
  EXPECT_THAT(std::string(ValidateSummary("{modle} broke").message()),
              HasSubstr("unknown placeholder {modle}"));
  EXPECT_THAT(std::string(ValidateSummary("value {value").message()),
              HasSubstr("unclosed '{' at offset 6"));
  EXPECT_THAT(std::string(ValidateSummary("a } b").message()),
              HasSubstr("unmatched '}' at offset 2"));
}

}  // namespace
}  // namespace vigie::rules
