#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace vigie::tools {

// Splits comma-separated text into rows of fields, as RFC 4180 describes:
// a field may be quoted, and a quoted field may hold commas, line breaks and
// doubled quotes ("a ""b"""). Rows end with LF or CRLF. Lenient where the
// RFC is strict and the intent is plain: a quote inside an unquoted field is
// kept as a character. Blank lines are skipped.
//
//   std::ifstream in(path, std::ios::binary);
//   CsvParser parser(in);
//   CsvParser::Row row;
//   while (parser.Next(&row)) { ... row.fields ... }
//
// O(bytes) per row. Not thread-safe; reads `in`, which must outlive it.
class CsvParser {
 public:
  struct Row {
    // 1-based line where the row starts.
    int64_t line = 0;
    std::vector<std::string> fields;
    // Set when the row is malformed: an unterminated quoted field, or text
    // after a closing quote. The fields are then best effort.
    std::optional<std::string> error;
  };

  explicit CsvParser(std::istream& in);

  // Replaces *row with the next row. False at the end of the input.
  bool Next(Row* row);

  // Bytes consumed so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int Get();
  int Peek();

  std::streambuf* buf_;
  int64_t line_ = 1;  // Line of the next character.
  uint64_t bytes_read_ = 0;
};

}  // namespace vigie::tools
