#include "tools/reference_upload.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/event_reader.h"

namespace vigie::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPrediction[] =
    R"({"prediction":{"modelId":"credit","predictionId":"p1",)"
    R"("eventTime":"2026-01-05T00:00:00Z","binary":{"score":0.7},)"
    R"("features":{"x":{"numeric":1.5},"c":{"categorical":"a"}}}})";
constexpr char kOutcome[] =
    R"({"outcome":{"modelId":"credit","predictionId":"p1",)"
    R"("eventTime":"2026-01-05T01:00:00Z","binary":true}})";

// Texts are joined with StrCat: GCC 12 at -O2 warns falsely
// (-Warray-bounds) on chains of std::string operator+.
class ReferenceUploadTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventReader> Open(const std::string& text) {
    const std::string path = dir_.Join("sample.jsonl");
    std::ofstream(path, std::ios::binary) << text;
    auto reader = EventReader::OpenJsonLines(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? *std::move(reader) : nullptr;
  }

  testutil::TempDir dir_;
};

TEST_F(ReferenceUploadTest, ReadsEveryEventWithItsLine) {
  auto reader = Open(absl::StrCat(kPrediction, "\n\n", kOutcome, "\n"));
  ASSERT_OK_AND_ASSIGN(
      ReferenceUpload upload,
      ReadReferenceUpload(*reader, "credit", "validation set"));
  EXPECT_EQ(upload.request.model_id(), "credit");
  EXPECT_EQ(upload.request.description(), "validation set");
  ASSERT_EQ(upload.request.events_size(), 2);
  EXPECT_EQ(
      upload.request.events(0).prediction().features().at("c").categorical(),
      "a");
  EXPECT_TRUE(upload.request.events(1).outcome().binary());
  EXPECT_THAT(upload.event_lines, ElementsAre(1, 3));
}

TEST_F(ReferenceUploadTest, StopsAtTheFirstLineThatDoesNotParse) {
  auto reader =
      Open(absl::StrCat(kPrediction, "\n", kOutcome, "\n",
                        R"({"prediction":{"modelVersio":"v1"}})", "\n{\n"));
  absl::StatusOr<ReferenceUpload> upload =
      ReadReferenceUpload(*reader, "credit", "");
  EXPECT_EQ(upload.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(upload.status().message(),
              HasSubstr("line 3: invalid JSON event: "));
}

TEST_F(ReferenceUploadTest, RefusesAFileWithoutEvents) {
  auto reader = Open("\n  \n");
  absl::StatusOr<ReferenceUpload> upload =
      ReadReferenceUpload(*reader, "credit", "");
  EXPECT_EQ(upload.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(upload.status().message(), HasSubstr("no event"));
}

TEST_F(ReferenceUploadTest, SizeLimitIsTheSerializedRequestsExactly) {
  const std::string text = absl::StrCat(kPrediction, "\n", kOutcome, "\n");
  auto whole = Open(text);
  ASSERT_OK_AND_ASSIGN(ReferenceUpload upload,
                       ReadReferenceUpload(*whole, "credit", "validation"));
  const uint64_t size = upload.request.ByteSizeLong();

  auto at_limit = Open(text);
  EXPECT_OK(
      ReadReferenceUpload(*at_limit, "credit", "validation", size).status());
  auto over = Open(text);
  absl::StatusOr<ReferenceUpload> refused =
      ReadReferenceUpload(*over, "credit", "validation", size - 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("the request would exceed ", size - 1,
                                     " bytes at line 2")));
}

TEST(LocateReferenceRejectionTest, ReplacesTheEventIndexByItsLine) {
  const std::vector<int64_t> lines = {2, 3, 5};
  EXPECT_EQ(LocateReferenceRejection("event 2: INVALID_SCORE: got 1.7", lines),
            "line 5: INVALID_SCORE: got 1.7");
  EXPECT_EQ(LocateReferenceRejection("event 0: no prediction 'p9'", lines),
            "line 2: no prediction 'p9'");
  // Unchanged when it names no event that was sent.
  EXPECT_EQ(LocateReferenceRejection("event 3: beyond", lines),
            "event 3: beyond");
  EXPECT_EQ(LocateReferenceRejection("event x: odd", lines), "event x: odd");
  EXPECT_EQ(LocateReferenceRejection("something else", lines),
            "something else");
}

}  // namespace
}  // namespace vigie::tools
