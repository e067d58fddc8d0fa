#pragma once

#include <string>

namespace vigie::testutil {

// A fresh directory under the test's temporary folder ($TEST_TMPDIR or
// $TMPDIR or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Join(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace vigie::testutil
