#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vigie/v1/vigie.pb.h"

// `vigiectl catalogue upload` and `show`: a catalogue file read into one
// PutCatalogueRequest, and the server's CatalogueInfo as text.

namespace vigie::tools {

// The largest request `catalogue upload` sends, in bytes: the server accepts
// messages of up to 64 MiB (a larger catalogue goes in the model's
// catalogue_file).
inline constexpr uint64_t kMaxCatalogueRequestBytes = uint64_t{60} << 20;

// A catalogue ready to send.
struct CatalogueUpload {
  v1::PutCatalogueRequest request;
  // item_lines[i]: the input line of request.catalogue().items(i), so that
  // the server's "item i: ..." errors can name the line.
  std::vector<int64_t> item_lines;
};

// Reads a catalogue file (JSON lines, one vigie.v1.CatalogueLine a line in
// protobuf's JSON mapping; blank lines and lines starting with '#' skipped:
// the format of monitors/item_catalogue.h) into one request for `model_id`
// with `description`. Only the syntax is checked here, the rest (duplicate
// ids, mixed features, bounds) by the server. kInvalidArgument naming the
// line for a line that is not a CatalogueLine, a second referenceUsers
// line, or a file without items; kResourceExhausted as soon as the request
// would exceed `max_bytes`.
absl::StatusOr<CatalogueUpload> ReadCatalogueUpload(
    std::istream& in, const std::string& model_id,
    const std::string& description,
    uint64_t max_bytes = kMaxCatalogueRequestBytes);

// The server's message ("item 3: duplicate item id \"b2\"") with the item's
// index replaced by its input line ("line 5: duplicate item id \"b2\"");
// unchanged when it names no item of `item_lines`.
std::string LocateCatalogueError(const std::string& message,
                                 const std::vector<int64_t>& item_lines);

// What `vigiectl catalogue show` prints (and `upload`, after its first
// line): version, description, upload time, items and those with features,
// feature kind and dimension, reference users, fingerprint (hex).
void PrintCatalogueText(const v1::CatalogueInfo& info, std::ostream& out);

}  // namespace vigie::tools
