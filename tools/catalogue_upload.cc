#include "tools/catalogue_upload.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "tools/printing.h"
#include "tools/report_text.h"
#include "vigie/v1/catalogue.pb.h"

namespace vigie::tools {
namespace {

// Serialized size of a length-delimited field of `n` bytes whose number
// fits a one-byte tag.
uint64_t FieldSize(uint64_t n) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
}

uint64_t StringFieldSize(const std::string& s) {
  return s.empty() ? 0 : FieldSize(s.size());
}

}  // namespace

absl::StatusOr<CatalogueUpload> ReadCatalogueUpload(
    std::istream& in, const std::string& model_id,
    const std::string& description, uint64_t max_bytes) {
  CatalogueUpload upload;
  upload.request.set_model_id(model_id);
  upload.request.set_description(description);
  v1::ItemCatalogue& catalogue = *upload.request.mutable_catalogue();
  // Kept as the lines come, so that a file far too large stops early. The
  // catalogue field's own tag and length, and referenceUsers, are within
  // a margin of 16 bytes.
  uint64_t size = StringFieldSize(model_id) + StringFieldSize(description) + 16;
  bool reference_seen = false;
  int64_t number = 0;
  std::string text;
  v1::CatalogueLine line;
  while (std::getline(in, text)) {
    ++number;
    const absl::string_view stripped = absl::StripAsciiWhitespace(text);
    if (stripped.empty() || stripped[0] == '#') continue;
    line.Clear();
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(stripped.data(), stripped.size()), &line);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", number,
          ": not a CatalogueLine: ", std::string(parsed.message())));
    }
    switch (line.kind_case()) {
      case v1::CatalogueLine::kItem:
        size += FieldSize(line.item().ByteSizeLong());
        if (size > max_bytes) {
          return absl::ResourceExhaustedError(
              absl::StrCat("the request would exceed ", FormatCount(max_bytes),
                           " bytes at line ", number));
        }
        *catalogue.add_items() = std::move(*line.mutable_item());
        upload.item_lines.push_back(number);
        break;
      case v1::CatalogueLine::kReferenceUsers:
        if (reference_seen) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", number, ": second referenceUsers line"));
        }
        reference_seen = true;
        catalogue.set_reference_users(line.reference_users());
        break;
      case v1::CatalogueLine::KIND_NOT_SET:
        return absl::InvalidArgumentError(
            absl::StrCat("line ", number, ": neither item nor referenceUsers"));
    }
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("read error after line ", number));
  }
  if (catalogue.items().empty()) {
    return absl::InvalidArgumentError("no item in the file");
  }
  return upload;
}

std::string LocateCatalogueError(const std::string& message,
                                 const std::vector<int64_t>& item_lines) {
  return LocateByLine(message, "item ", item_lines);
}

void PrintCatalogueText(const v1::CatalogueInfo& info, std::ostream& out) {
  out << "catalogue v" << info.version() << " of model " << info.model_id()
      << "\n";
  out << "  description:  " << info.description() << "\n";
  if (info.has_uploaded_at()) {
    out << "  uploaded:     " << FormatTime(info.uploaded_at()) << "\n";
  }
  out << "  items:        " << FormatCount(info.items()) << " ("
      << FormatCount(info.items_with_features()) << " with features)\n";
  out << "  features:     " << info.feature_kind();
  if (info.feature_kind() == "categories") {
    out << ", " << FormatCount(info.feature_dimension())
        << (info.feature_dimension() == 1 ? " label" : " labels");
  } else if (info.feature_kind() == "embedding") {
    out << ", dimension " << info.feature_dimension();
  }
  out << "\n";
  out << "  reference:    ";
  if (info.reference_users() == 0) {
    out << "none (no popularity)\n";
  } else {
    out << FormatCount(info.reference_users()) << " users\n";
  }
  if (!info.popularity_source().empty() &&
      info.popularity_source() != "catalogue") {
    // Learned from the stream: say from what, as the counts are not the
    // uploaded ones.
    out << "  popularity:   " << info.popularity_source() << "\n";
  }
  out << "  fingerprint:  " << absl::StrFormat("%016x", info.fingerprint())
      << "\n";
}

}  // namespace vigie::tools
