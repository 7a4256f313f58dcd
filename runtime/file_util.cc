#include "runtime/file_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <unistd.h>

namespace ferry {

StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return NotFoundError("no such file: " + path);
  if (!std::filesystem::is_regular_file(status)) {
    return InvalidArgumentError("not a regular file: " + path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return UnavailableError("cannot open " + path + ": " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return UnavailableError("cannot read the size of " + path);
  if (static_cast<uint64_t>(size) > max_bytes) {
    return InvalidArgumentError(path + " is " + std::to_string(size) + " bytes, over the limit of " +
                                std::to_string(max_bytes));
  }
  in.seekg(0, std::ios::beg);
  std::string data(static_cast<size_t>(size), '\0');
  if (!in.read(data.data(), size)) return UnavailableError("error reading " + path);
  return data;
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return UnavailableError("cannot create " + temp + ": " + std::strerror(errno));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return UnavailableError("error writing " + temp);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    return UnavailableError("cannot rename " + temp + " to " + path + ": " + reason);
  }
  return Status::Ok();
}

}  // namespace ferry
