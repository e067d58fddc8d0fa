#include "tools/csv_parser.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vigie::tools {
namespace {

constexpr int kEof = std::char_traits<char>::eof();

bool IsBlank(const CsvParser::Row& row, bool saw_quote) {
  return !saw_quote && row.fields.size() == 1 &&
         absl::StripAsciiWhitespace(row.fields[0]).empty();
}

}  // namespace

CsvParser::CsvParser(std::istream& in) : buf_(in.rdbuf()) {}

int CsvParser::Get() {
  const int c = buf_ == nullptr ? kEof : buf_->sbumpc();
  if (c != kEof) ++bytes_read_;
  return c;
}

int CsvParser::Peek() { return buf_ == nullptr ? kEof : buf_->sgetc(); }

bool CsvParser::Next(Row* row) {
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  while (true) {
    row->line = line_;
    row->fields.clear();
    row->error.reset();
    std::string field;
    State state = State::kFieldStart;
    bool saw_quote = false;
    bool any_char = false;
    int c;
    while ((c = Get()) != kEof) {
      any_char = true;
      const char ch = static_cast<char>(c);
      if (state == State::kQuoted) {
        if (ch == '"') {
          state = State::kQuoteInQuoted;
        } else {
          if (ch == '\n') ++line_;
          field.push_back(ch);
        }
        continue;
      }
      if (ch == '\r' && Peek() == '\n') continue;  // CRLF ends the row below.
      if (ch == '\n') {
        ++line_;
        break;
      }
      if (ch == ',') {
        row->fields.push_back(std::move(field));
        field.clear();
        state = State::kFieldStart;
        continue;
      }
      if (ch == '"') {
        if (state == State::kFieldStart) {
          state = State::kQuoted;
          saw_quote = true;
          continue;
        }
        if (state == State::kQuoteInQuoted) {  // A doubled quote.
          field.push_back('"');
          state = State::kQuoted;
          continue;
        }
      } else if (state == State::kQuoteInQuoted && !row->error) {
        row->error = absl::StrCat(
            "unexpected character '", absl::string_view(&ch, 1),
            "' after the closing quote of field ", row->fields.size() + 1);
      }
      field.push_back(ch);
      state = State::kUnquoted;
    }
    if (!any_char) return false;
    if (state == State::kQuoted) {
      row->error = absl::StrCat("unterminated quoted field ",
                                row->fields.size() + 1, " at end of input");
    }
    row->fields.push_back(std::move(field));
    if (!IsBlank(*row, saw_quote)) return true;
  }
}

}  // namespace vigie::tools
