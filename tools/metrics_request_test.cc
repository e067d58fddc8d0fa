#include "tools/metrics_request.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;

TEST(MetricsRequestTest, LastGivesASlidingWindowAndNoFixedOne) {
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsRequest request,
                       BuildMetricsRequest({"demo", "", "", "2h"}));
  EXPECT_EQ(request.model_id(), "demo");
  EXPECT_TRUE(request.has_last());
  EXPECT_EQ(request.last().seconds(), 2 * 3600);
  EXPECT_EQ(request.last().nanos(), 0);
  EXPECT_FALSE(request.has_window());

  ASSERT_OK_AND_ASSIGN(request, BuildMetricsRequest({"demo", "", "", "1d"}));
  EXPECT_EQ(request.last().seconds(), 24 * 3600);
  ASSERT_OK_AND_ASSIGN(request, BuildMetricsRequest({"demo", "", "", "30m"}));
  EXPECT_EQ(request.last().seconds(), 30 * 60);
  ASSERT_OK_AND_ASSIGN(request, BuildMetricsRequest({"demo", "", "", "1.5s"}));
  EXPECT_EQ(request.last().seconds(), 1);
  EXPECT_EQ(request.last().nanos(), 500'000'000);
}

TEST(MetricsRequestTest, LastWithFromOrToIsAUsageError) {
  for (const MetricsQuery& query :
       {MetricsQuery{"demo", "2026-01-05", "", "2h"},
        MetricsQuery{"demo", "", "2026-01-06", "2h"},
        MetricsQuery{"demo", "2026-01-05", "2026-01-06", "2h"}}) {
    const auto request = BuildMetricsRequest(query);
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(request.status().message(),
                HasSubstr("--last cannot be combined with --from or --to"));
  }
}

TEST(MetricsRequestTest, BadOrNonPositiveLastIsAUsageError) {
  for (const char* last : {"2x", "h", "0s", "-1h", "inf"}) {
    const auto request = BuildMetricsRequest({"demo", "", "", last});
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument)
        << last;
    EXPECT_THAT(request.status().message(), HasSubstr("--last")) << last;
  }
}

TEST(MetricsRequestTest, FromAndToGiveAFixedWindow) {
  ASSERT_OK_AND_ASSIGN(
      v1::GetMetricsRequest request,
      BuildMetricsRequest({"demo", "2026-01-05", "2026-01-06", ""}));
  EXPECT_FALSE(request.has_last());
  EXPECT_EQ(request.window().start().seconds(), 1'767'571'200);
  EXPECT_EQ(request.window().end().seconds(), 1'767'571'200 + 86'400);

  ASSERT_OK_AND_ASSIGN(request, BuildMetricsRequest({"demo", "", "", ""}));
  EXPECT_FALSE(request.has_window());
  EXPECT_FALSE(request.has_last());

  const auto bad = BuildMetricsRequest({"demo", "yesterday", "", ""});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--from"));
}

TEST(MetricsRequestTest, SinceReferenceStandsAlone) {
  ASSERT_OK_AND_ASSIGN(auto request,
                       BuildMetricsRequest({"demo", "", "", "", true}));
  EXPECT_TRUE(request.since_reference());
  EXPECT_FALSE(request.has_window());
  EXPECT_FALSE(request.has_last());
  for (const MetricsQuery& mixed :
       {MetricsQuery{"demo", "2026-01-05", "", "", true},
        MetricsQuery{"demo", "", "", "2h", true}}) {
    const auto bad = BuildMetricsRequest(mixed);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(bad.status().message(), HasSubstr("--since_reference"));
  }
}

TEST(MetricsRequestTest, ModelIsRequired) {
  const auto request = BuildMetricsRequest({"", "", "", "2h"});
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(request.status().message(), HasSubstr("--model"));
}

}  // namespace
}  // namespace vigie::tools
