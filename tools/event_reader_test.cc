#include "tools/event_reader.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::tools {
namespace {

using ::testing::HasSubstr;

int64_t UnixSeconds(int y, int m, int d, int hh = 0) {
  return absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilHour(y, m, d, hh), absl::UTCTimeZone()));
}

std::string WriteFile(const testutil::TempDir& dir, const std::string& name,
                      const std::string& text) {
  const std::string path = dir.Join(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::vector<EventRecord> ReadAll(EventReader& reader) {
  std::vector<EventRecord> records;
  EventRecord record;
  while (reader.Next(&record)) records.push_back(record);
  return records;
}

TEST(EventReaderTest, JsonLinesReportsBadLinesAndKeepsTheOthers) {
  testutil::TempDir dir;
  const std::string path = WriteFile(
      dir, "events.jsonl",
      "{\"prediction\":{\"modelId\":\"demo\",\"modelVersion\":\"v1\","
      "\"predictionId\":\"p1\",\"eventTime\":\"2026-01-05T00:00:00Z\","
      "\"binary\":{\"score\":0.72},\"groups\":{\"sex\":\"female\"}}}\n"
      "\n"
      "{\"outcome\":{\"modelId\":\"demo\",\"predictionId\":\"p1\","
      "\"eventTime\":\"2026-01-05T01:00:00Z\",\"binary\":true}}\n"
      "{\"prediction\": {\"modelId\": \"demo\"\n"
      "{\"prediction\":{\"modelId\":\"demo\",\"modelVersio\":\"v1\"}}\n"
      "{\"prediction\":{\"modelId\":\"demo\",\"predictionId\":\"p2\","
      "\"binary\":{\"decision\":false}}}\r\n");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventReader> reader,
                       EventReader::OpenJsonLines(path));
  EXPECT_EQ(reader->total_records(), 5u);
  const std::vector<EventRecord> records = ReadAll(*reader);
  ASSERT_EQ(records.size(), 5u);

  EXPECT_EQ(records[0].line, 1);
  ASSERT_EQ(records[0].events.size(), 1u);
  const v1::Prediction& p1 = records[0].events[0].prediction();
  EXPECT_EQ(p1.prediction_id(), "p1");
  EXPECT_EQ(p1.model_version(), "v1");
  EXPECT_EQ(p1.event_time().seconds(), UnixSeconds(2026, 1, 5));
  EXPECT_DOUBLE_EQ(p1.binary().score(), 0.72);
  EXPECT_FALSE(p1.binary().has_decision());
  EXPECT_EQ(p1.groups().at("sex"), "female");

  EXPECT_EQ(records[1].line, 3);
  ASSERT_EQ(records[1].events.size(), 1u);
  EXPECT_TRUE(records[1].events[0].outcome().binary());
  EXPECT_EQ(records[1].prediction_id, "p1");

  EXPECT_EQ(records[2].line, 4);
  EXPECT_TRUE(records[2].events.empty());
  ASSERT_TRUE(records[2].error.has_value());
  EXPECT_THAT(*records[2].error, HasSubstr("invalid JSON event"));

  EXPECT_EQ(records[3].line, 5);
  EXPECT_TRUE(records[3].events.empty());
  ASSERT_TRUE(records[3].error.has_value());
  EXPECT_THAT(*records[3].error, HasSubstr("modelVersio"));

  EXPECT_EQ(records[4].line, 6);
  ASSERT_EQ(records[4].events.size(), 1u);
  EXPECT_FALSE(records[4].error.has_value());
  EXPECT_FALSE(records[4].events[0].prediction().binary().decision());

  EXPECT_EQ(reader->records_read(), 5u);
  EXPECT_EQ(reader->bytes_read(), reader->total_bytes());
}

TEST(EventReaderTest, MissingFileIsNotFound) {
  testutil::TempDir dir;
  EXPECT_EQ(EventReader::OpenJsonLines(dir.Join("nope.jsonl")).status().code(),
            absl::StatusCode::kNotFound);
}

CsvMapping CompasLikeMapping() {
  CsvMapping m;
  m.model_id = "compas";
  m.model_version = "v2";
  m.id_column = "id";
  m.time_column = "date";
  m.score_column = "decile";
  m.score_scale = 0.1;
  m.decision_threshold = 0.5;
  m.label_column = "recid";
  m.group_columns = {"race", "sex"};
  m.numeric_feature_columns = {"age"};
  m.categorical_feature_columns = {"note"};
  m.outcome_delay = absl::Hours(24 * 730);
  return m;
}

constexpr char kCompasLike[] =
    "\xEF\xBB\xBFid,date,decile,race,sex,age,note,recid\r\n"  // Line 1.
    "a1,2013-08-14,7,\"African-American\",Male,34,\"x, \"\"y\"\"\",1\r\n"
    "a2,2026-01-05T12:00:00Z,3,Caucasian,Female,,\"two\nlines\",0\r\n"  // 3-4
    "a3,2013-08-15,,Caucasian,Male,40,n,1\r\n"                          // 5
    "a4,1767571200,10,Other,Female,51,n,true\r\n"                       // 6
    "a5,not-a-date,5,Other,Male,22,n,0\r\n"                             // 7
    "a6,2013-08-16,5,Other,Male,22,n,maybe\r\n"                         // 8
    "a7,2013-08-17,4,Other,Male\r\n"                                    // 9
    "a8,2013-08-18,4,Asian,Female,29,,0";                               // 10

TEST(EventReaderTest, CsvMapsColumnsToPredictionsAndOutcomes) {
  testutil::TempDir dir;
  const std::string path = WriteFile(dir, "compas.csv", kCompasLike);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventReader> reader,
                       EventReader::OpenCsv(path, CompasLikeMapping()));
  EXPECT_EQ(reader->total_records(), 8u);
  const std::vector<EventRecord> records = ReadAll(*reader);
  ASSERT_EQ(records.size(), 8u);

  // a1: quoted fields, a plain date, the score scaled, the threshold applied.
  EXPECT_EQ(records[0].line, 2);
  ASSERT_EQ(records[0].events.size(), 2u);
  const v1::Prediction& p = records[0].events[0].prediction();
  EXPECT_EQ(p.model_id(), "compas");
  EXPECT_EQ(p.model_version(), "v2");
  EXPECT_EQ(p.prediction_id(), "a1");
  EXPECT_EQ(p.event_time().seconds(), UnixSeconds(2013, 8, 14));
  EXPECT_EQ(p.event_time().nanos(), 0);
  EXPECT_DOUBLE_EQ(p.binary().score(), 0.7);
  ASSERT_TRUE(p.binary().has_decision());
  EXPECT_TRUE(p.binary().decision());
  EXPECT_EQ(p.groups().at("race"), "African-American");
  EXPECT_EQ(p.groups().at("sex"), "Male");
  EXPECT_DOUBLE_EQ(p.features().at("age").numeric(), 34);
  EXPECT_EQ(p.features().at("note").categorical(), "x, \"y\"");
  const v1::Outcome& o = records[0].events[1].outcome();
  EXPECT_EQ(o.model_id(), "compas");
  EXPECT_EQ(o.prediction_id(), "a1");
  EXPECT_TRUE(o.binary());
  EXPECT_EQ(o.event_time().seconds(),
            UnixSeconds(2013, 8, 14) + 730 * 24 * 3600);

  // a2: RFC 3339, a quoted line break, an empty numeric feature left out.
  EXPECT_EQ(records[1].line, 3);
  ASSERT_EQ(records[1].events.size(), 2u);
  const v1::Prediction& p2 = records[1].events[0].prediction();
  EXPECT_EQ(p2.event_time().seconds(), UnixSeconds(2026, 1, 5, 12));
  EXPECT_FALSE(p2.binary().decision());  // 0.3 < 0.5
  EXPECT_FALSE(p2.features().contains("age"));
  EXPECT_EQ(p2.features().at("note").categorical(), "two\nlines");
  EXPECT_FALSE(records[1].events[1].outcome().binary());

  // a3: missing score.
  EXPECT_EQ(records[2].line, 5);
  EXPECT_TRUE(records[2].events.empty());
  EXPECT_EQ(records[2].prediction_id, "a3");
  ASSERT_TRUE(records[2].error.has_value());
  EXPECT_EQ(*records[2].error, "missing value in column 'decile'");

  // a4: unix seconds, a score of exactly 1, label "true".
  EXPECT_EQ(records[3].line, 6);
  ASSERT_EQ(records[3].events.size(), 2u);
  EXPECT_EQ(records[3].events[0].prediction().event_time().seconds(),
            UnixSeconds(2026, 1, 5));
  EXPECT_DOUBLE_EQ(records[3].events[0].prediction().binary().score(), 1.0);
  EXPECT_TRUE(records[3].events[1].outcome().binary());

  // a5, a6, a7: a bad time, a bad label, a short row.
  EXPECT_EQ(records[4].line, 7);
  ASSERT_TRUE(records[4].error.has_value());
  EXPECT_THAT(*records[4].error, HasSubstr("column 'date'"));
  EXPECT_THAT(*records[4].error, HasSubstr("not-a-date"));
  EXPECT_EQ(records[5].line, 8);
  ASSERT_TRUE(records[5].error.has_value());
  EXPECT_THAT(*records[5].error, HasSubstr("column 'recid'"));
  EXPECT_EQ(records[5].prediction_id, "a6");
  EXPECT_EQ(records[6].line, 9);
  ASSERT_TRUE(records[6].error.has_value());
  EXPECT_EQ(*records[6].error, "row has 5 fields, the header has 8");

  // a8: the last row, without a newline; an empty categorical left out.
  EXPECT_EQ(records[7].line, 10);
  ASSERT_EQ(records[7].events.size(), 2u);
  EXPECT_FALSE(records[7].events[0].prediction().features().contains("note"));
  EXPECT_EQ(reader->bytes_read(), reader->total_bytes());
}

TEST(EventReaderTest, CsvWithoutThresholdLeavesTheDecisionToTheServer) {
  testutil::TempDir dir;
  const std::string path = WriteFile(dir, "plain.csv", "t,s\n2026-01-05,0.9\n");
  CsvMapping m;
  m.model_id = "m";
  m.time_column = "t";
  m.score_column = "s";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventReader> reader,
                       EventReader::OpenCsv(path, m));
  EventRecord record;
  ASSERT_TRUE(reader->Next(&record));
  ASSERT_EQ(record.events.size(), 1u);  // No label column: no outcome.
  const v1::Prediction& p = record.events[0].prediction();
  EXPECT_EQ(p.prediction_id(), "1");  // The data row's number.
  EXPECT_DOUBLE_EQ(p.binary().score(), 0.9);
  EXPECT_FALSE(p.binary().has_decision());
  EXPECT_FALSE(reader->Next(&record));
}

TEST(EventReaderTest, CsvCostColumns) {
  testutil::TempDir dir;
  const std::string path = WriteFile(dir, "cost.csv",
                                     "t,s,j,lat,hw\n"
                                     "2026-01-05,0.9,12.5,,\n"
                                     "2026-01-05,0.8,,0.04,gpu\n"
                                     "2026-01-05,0.7,x,,\n");
  CsvMapping m;
  m.model_id = "m";
  m.time_column = "t";
  m.score_column = "s";
  m.energy_column = "j";
  m.latency_column = "lat";
  m.hardware_class_column = "hw";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventReader> reader,
                       EventReader::OpenCsv(path, m));
  EventRecord record;
  ASSERT_TRUE(reader->Next(&record));
  const v1::Prediction& measured = record.events[0].prediction();
  EXPECT_EQ(measured.energy_joules(), 12.5);
  EXPECT_FALSE(measured.has_latency_seconds());
  EXPECT_EQ(measured.hardware_class(), "");
  ASSERT_TRUE(reader->Next(&record));
  const v1::Prediction& timed = record.events[0].prediction();
  EXPECT_FALSE(timed.has_energy_joules());
  EXPECT_EQ(timed.latency_seconds(), 0.04);
  EXPECT_EQ(timed.hardware_class(), "gpu");
  ASSERT_TRUE(reader->Next(&record));
  ASSERT_TRUE(record.error.has_value());  // "x" is no number: it says so.
  EXPECT_NE(record.error->find("column 'j'"), std::string::npos);
}

TEST(EventReaderTest, CsvDecisionColumn) {
  testutil::TempDir dir;
  const std::string path =
      WriteFile(dir, "d.csv", "t,d\n2026-01-05,1\n2026-01-05,false\n");
  CsvMapping m;
  m.model_id = "m";
  m.time_column = "t";
  m.decision_column = "d";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventReader> reader,
                       EventReader::OpenCsv(path, m));
  const std::vector<EventRecord> records = ReadAll(*reader);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].events[0].prediction().binary().decision());
  EXPECT_FALSE(records[0].events[0].prediction().binary().has_score());
  EXPECT_FALSE(records[1].events[0].prediction().binary().decision());
}

TEST(EventReaderTest, CsvUnknownColumnFailsAtOpenListingTheColumns) {
  testutil::TempDir dir;
  const std::string path = WriteFile(dir, "compas.csv", kCompasLike);
  CsvMapping m = CompasLikeMapping();
  m.score_column = "decile_score";
  m.group_columns = {"race", "age_cat"};
  const absl::Status status = EventReader::OpenCsv(path, m).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("columns 'decile_score', 'age_cat' not found"));
  EXPECT_THAT(status.message(),
              HasSubstr("available columns: id, date, decile, race, sex, age, "
                        "note, recid"));
}

TEST(EventReaderTest, CsvInconsistentMappingOrEmptyFileFailsAtOpen) {
  testutil::TempDir dir;
  const std::string path = WriteFile(dir, "compas.csv", kCompasLike);
  CsvMapping both = CompasLikeMapping();
  both.decision_column = "recid";
  EXPECT_EQ(EventReader::OpenCsv(path, both).status().code(),
            absl::StatusCode::kInvalidArgument);
  CsvMapping no_model = CompasLikeMapping();
  no_model.model_id.clear();
  EXPECT_EQ(EventReader::OpenCsv(path, no_model).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string empty = WriteFile(dir, "empty.csv", "");
  const absl::Status status =
      EventReader::OpenCsv(empty, CompasLikeMapping()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("header row"));
}

}  // namespace
}  // namespace vigie::tools
