#include "tools/csv_parser.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<CsvParser::Row> ParseAll(const std::string& text) {
  std::istringstream in(text);
  CsvParser parser(in);
  std::vector<CsvParser::Row> rows;
  CsvParser::Row row;
  while (parser.Next(&row)) rows.push_back(row);
  return rows;
}

TEST(CsvParserTest, SplitsPlainFieldsKeepingEmptyOnes) {
  const auto rows = ParseAll("a,b,c\n1,,3\n,x,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "", "3"));
  EXPECT_THAT(rows[2].fields, ElementsAre("", "x", ""));
  EXPECT_FALSE(rows[1].error.has_value());
}

TEST(CsvParserTest, QuotedFieldsHoldCommasDoubledQuotesAndLineBreaks) {
  const auto rows = ParseAll(
      "id,note\r\n1,\"a, b\"\r\n2,\"say "
      "\"\"hi\"\"\"\r\n3,\"two\nlines\"\r\n4,x\r\n");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "a, b"));
  EXPECT_THAT(rows[2].fields, ElementsAre("2", "say \"hi\""));
  EXPECT_THAT(rows[3].fields, ElementsAre("3", "two\nlines"));
  EXPECT_THAT(rows[4].fields, ElementsAre("4", "x"));
  // Lines count physical lines: row 3 spans lines 4 and 5.
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_EQ(rows[3].line, 4);
  EXPECT_EQ(rows[4].line, 6);
}

TEST(CsvParserTest, CrlfIsNotPartOfTheLastField) {
  const auto rows = ParseAll("a,b\r\n1,2\r\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "2"));
}

TEST(CsvParserTest, SkipsBlankLinesAndReadsALastRowWithoutNewline) {
  const auto rows = ParseAll("a\n\n  \r\n1\n\n2");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].line, 4);
  EXPECT_THAT(rows[2].fields, ElementsAre("2"));
  EXPECT_EQ(rows[2].line, 6);
}

TEST(CsvParserTest, KeepsAQuoteInsideAnUnquotedField) {
  const auto rows = ParseAll("5'10\",x\n");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_THAT(rows[0].fields, ElementsAre("5'10\"", "x"));
  EXPECT_FALSE(rows[0].error.has_value());
}

TEST(CsvParserTest, TextAfterAClosingQuoteIsAnErrorOfThatRowOnly) {
  const auto rows = ParseAll("\"a\"b,c\nd,e\n");
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_TRUE(rows[0].error.has_value());
  EXPECT_THAT(*rows[0].error, HasSubstr("after the closing quote of field 1"));
  EXPECT_FALSE(rows[1].error.has_value());
  EXPECT_THAT(rows[1].fields, ElementsAre("d", "e"));
}

TEST(CsvParserTest, UnterminatedQuoteIsAnError) {
  const auto rows = ParseAll("a,b\n1,\"open\n2,3\n");
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_TRUE(rows[1].error.has_value());
  EXPECT_THAT(*rows[1].error, HasSubstr("unterminated quoted field 2"));
  EXPECT_EQ(rows[1].line, 2);
}

TEST(CsvParserTest, CountsBytes) {
  const std::string text = "a,b\n1,2\n";
  std::istringstream in(text);
  CsvParser parser(in);
  CsvParser::Row row;
  while (parser.Next(&row)) {
  }
  EXPECT_EQ(parser.bytes_read(), text.size());
}

}  // namespace
}  // namespace vigie::tools
