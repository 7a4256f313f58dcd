#include "runtime/npy.h"

#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

namespace ferry {
namespace {

// .npy stores little-endian data, which Ferry copies as is.
static_assert(std::endian::native == std::endian::little, "npy.cc assumes a little-endian host");

constexpr std::string_view kMagic("\x93NUMPY", 6);
// Magic, two version bytes, and a 4-byte header length (versions 2.0 and 3.0).
constexpr size_t kMaxPreambleBytes = 12;
// numpy aligns the data to this many bytes.
constexpr size_t kArrayAlign = 64;
// A header of the three keys Ferry accepts is under 1 KiB; anything near this is corrupt.
constexpr size_t kMaxHeaderBytes = 1 << 20;

Status Invalid(std::string message) { return InvalidArgumentError("npy: " + message); }
Status Unsupported(std::string message) { return UnimplementedError("npy: " + message); }

// The supported dtypes: numpy's kind letter and item size for each Ferry type.
struct DescrEntry {
  char kind;
  int size;
  DataType dtype;
};
constexpr DescrEntry kDescrTable[] = {
    {'f', 2, {kDLFloat, 16, 1}}, {'f', 4, {kDLFloat, 32, 1}}, {'f', 8, {kDLFloat, 64, 1}},
    {'i', 1, {kDLInt, 8, 1}},    {'i', 2, {kDLInt, 16, 1}},   {'i', 4, {kDLInt, 32, 1}},
    {'i', 8, {kDLInt, 64, 1}},   {'u', 1, {kDLUInt, 8, 1}},   {'u', 2, {kDLUInt, 16, 1}},
    {'u', 4, {kDLUInt, 32, 1}},  {'u', 8, {kDLUInt, 64, 1}},  {'b', 1, {kBoolTypeCode, 8, 1}},
};
constexpr std::string_view kSupportedNames = "bool, int8/16/32/64, uint8/16/32/64, float16/32/64";

StatusOr<DataType> DescrToDataType(const std::string& descr) {
  auto malformed = [&] { return Invalid("malformed descr '" + descr + "'"); };
  if (descr.size() < 2) return malformed();
  char order = descr[0];
  char kind = descr[1];
  if (std::string_view("<>|=").find(order) == std::string_view::npos) return malformed();
  if (std::string_view("cUSaOVMm").find(kind) != std::string_view::npos) {
    return Unsupported("dtype '" + descr + "' is not supported (Ferry reads " +
                       std::string(kSupportedNames) + ")");
  }
  std::string_view size_text = std::string_view(descr).substr(2);
  int size = 0;
  auto [end, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
  if (ec != std::errc() || end != size_text.data() + size_text.size()) return malformed();
  for (const DescrEntry& entry : kDescrTable) {
    if (entry.kind != kind || entry.size != size) continue;
    if (order == '>' && size > 1) {
      return Unsupported("big-endian data ('" + descr +
                         "') is not supported; save it little-endian, e.g. "
                         "a.astype(a.dtype.newbyteorder('<'))");
    }
    return entry.dtype;
  }
  return malformed();
}

StatusOr<std::string> DataTypeToDescr(DataType dtype) {
  for (const DescrEntry& entry : kDescrTable) {
    if (!(entry.dtype == dtype)) continue;
    std::string descr(1, entry.size == 1 ? '|' : '<');
    descr += entry.kind;
    descr += std::to_string(entry.size);
    return descr;
  }
  return Unsupported("cannot write dtype " + dtype.ToString() + " (.npy supports " +
                     std::string(kSupportedNames) + " here)");
}

// A strict parser for the header's Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Keys in any order, each exactly once; single- or double-quoted strings without escapes;
// True/False; a tuple of non-negative decimal ints (a one-element tuple needs its comma).
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  struct Result {
    std::string descr;
    bool fortran_order = false;
    std::vector<int64_t> shape;
  };

  StatusOr<Result> Parse() {
    Result result;
    bool have_descr = false, have_fortran = false, have_shape = false;
    SkipSpace();
    RETURN_IF_ERROR(Expect('{'));
    while (true) {
      SkipSpace();
      if (Peek() == '}') break;
      ASSIGN_OR_RETURN(std::string key, ParseString());
      SkipSpace();
      RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      bool* seen = nullptr;
      if (key == "descr") {
        if (Peek() == '[') return Unsupported("structured dtypes are not supported");
        ASSIGN_OR_RETURN(result.descr, ParseString());
        seen = &have_descr;
      } else if (key == "fortran_order") {
        ASSIGN_OR_RETURN(result.fortran_order, ParseBool());
        seen = &have_fortran;
      } else if (key == "shape") {
        ASSIGN_OR_RETURN(result.shape, ParseShape());
        seen = &have_shape;
      } else {
        return Invalid("unexpected key '" + key + "' in header");
      }
      if (*seen) return Invalid("duplicate key '" + key + "' in header");
      *seen = true;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() != '}') return Error("expected ',' or '}'");
    }
    ++pos_;  // '}'
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the header dict");
    if (!have_descr) return Invalid("header lacks 'descr'");
    if (!have_fortran) return Invalid("header lacks 'fortran_order'");
    if (!have_shape) return Invalid("header lacks 'shape'");
    return result;
  }

 private:
  // '\0' at the end; a NUL inside the header is rejected wherever it appears.
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < text_.size() &&
           std::string_view(" \t\r\n").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
  }
  Status Error(std::string_view what) const {
    return Invalid("malformed header: " + std::string(what) + " at offset " + std::to_string(pos_));
  }
  Status Expect(char c) {
    if (Peek() != c) return Error(std::string("expected '") + c + "'");
    ++pos_;
    return Status::Ok();
  }

  StatusOr<std::string> ParseString() {
    char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') return Error("unsupported string content");
      ++pos_;
    }
    if (pos_ == text_.size()) return Error("unterminated string");
    std::string out(text_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }

  StatusOr<bool> ParseBool() {
    for (auto [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return Error("expected True or False");
  }

  StatusOr<int64_t> ParseDim() {
    if (Peek() == '-') {
      return Invalid("negative dimension in shape at offset " + std::to_string(pos_));
    }
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    std::string_view digits = text_.substr(start, pos_ - start);
    if (digits.empty()) return Error("expected a non-negative integer dimension");
    if (digits.size() > 1 && digits[0] == '0') return Error("leading zero in a dimension");
    int64_t dim = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), dim);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return Invalid("dimension " + std::string(digits) + " is too large");
    }
    if (Peek() == 'L') ++pos_;  // Python 2 long literal, written by old numpy versions.
    return dim;
  }

  StatusOr<std::vector<int64_t>> ParseShape() {
    if (Peek() != '(') return Error("expected a tuple for 'shape'");
    ++pos_;
    std::vector<int64_t> shape;
    bool trailing_comma = false;
    SkipSpace();
    while (Peek() != ')') {
      if (shape.size() == static_cast<size_t>(kMaxNdim)) {
        return Unsupported("arrays of more than " + std::to_string(kMaxNdim) +
                           " dimensions are not supported");
      }
      ASSIGN_OR_RETURN(int64_t dim, ParseDim());
      shape.push_back(dim);
      SkipSpace();
      trailing_comma = Peek() == ',';
      if (!trailing_comma) break;
      ++pos_;
      SkipSpace();
    }
    RETURN_IF_ERROR(Expect(')'));
    if (shape.size() == 1 && !trailing_comma) {
      return Error("'shape' is not a tuple (one dimension is written (N,))");
    }
    return shape;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

struct Preamble {
  size_t header_start = 0;  // offset of the header text
  size_t header_len = 0;
  size_t header_end() const { return header_start + header_len; }
};

// Reads magic, version and header length from the start of an input of `total_size` bytes
// (`bytes` may hold just its first kMaxPreambleBytes bytes).
StatusOr<Preamble> ParsePreamble(std::string_view bytes, uint64_t total_size) {
  if (total_size == 0) return Invalid("empty input is not a .npy file");
  size_t magic_bytes = std::min(bytes.size(), kMagic.size());
  if (bytes.substr(0, magic_bytes) != kMagic.substr(0, magic_bytes)) {
    return Invalid("bad magic: not a .npy file");
  }
  if (bytes.size() < kMagic.size() + 2) {
    return Invalid("truncated preamble (" + std::to_string(bytes.size()) + " bytes)");
  }
  auto major = static_cast<uint8_t>(bytes[6]);
  auto minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return Unsupported("format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " is not supported (Ferry reads 1.0, 2.0 and 3.0)");
  }
  size_t len_bytes = major == 1 ? 2 : 4;
  Preamble p;
  p.header_start = 8 + len_bytes;
  if (bytes.size() < p.header_start) {
    return Invalid("truncated preamble (" + std::to_string(bytes.size()) + " bytes)");
  }
  for (size_t i = len_bytes; i-- > 0;) {
    p.header_len = (p.header_len << 8) | static_cast<uint8_t>(bytes[8 + i]);
  }
  if (p.header_len > kMaxHeaderBytes) {
    return Invalid("header length " + std::to_string(p.header_len) + " exceeds the limit of " +
                   std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (p.header_end() > total_size) {
    return Invalid("truncated header: header length " + std::to_string(p.header_len) +
                   " runs past the end of the input (" +
                   std::to_string(total_size - p.header_start) + " bytes follow the preamble)");
  }
  return p;
}

struct Layout {
  DataType dtype;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
  size_t data_bytes = 0;
};

// Parses preamble and header from `bytes` (at least the whole header) and checks that the
// input's `total_size` is exactly header plus data.
StatusOr<Layout> ParseLayout(std::string_view bytes, uint64_t total_size) {
  ASSIGN_OR_RETURN(Preamble p, ParsePreamble(bytes, total_size));
  FERRY_CHECK(bytes.size() >= p.header_end()) << "ParseLayout needs the whole header";
  ASSIGN_OR_RETURN(HeaderParser::Result header,
                   HeaderParser(bytes.substr(p.header_start, p.header_len)).Parse());
  Layout layout;
  ASSIGN_OR_RETURN(layout.dtype, DescrToDataType(header.descr));
  if (header.fortran_order) {
    int big_dims = 0;
    for (int64_t dim : header.shape) big_dims += dim > 1;
    if (big_dims > 1) {
      return Unsupported(
          "fortran_order=True arrays are not supported; save a C-ordered array "
          "(np.ascontiguousarray)");
    }
  }
  StatusOr<int64_t> count = ShapeNumElements(header.shape);
  if (!count.ok()) return Invalid(count.status().message());
  size_t itemsize = layout.dtype.bytes();
  if (static_cast<uint64_t>(*count) > std::numeric_limits<size_t>::max() / itemsize) {
    return Invalid("shape " + ShapeToString(header.shape) + " is too large");
  }
  layout.data_bytes = static_cast<size_t>(*count) * itemsize;
  layout.data_offset = p.header_end();
  layout.shape = std::move(header.shape);
  uint64_t available = total_size - layout.data_offset;
  if (available < layout.data_bytes) {
    return Invalid("truncated data: " + layout.dtype.ToString() + ShapeToString(layout.shape) +
                   " needs " + std::to_string(layout.data_bytes) + " bytes, the input has " +
                   std::to_string(available));
  }
  if (available > layout.data_bytes) {
    return Invalid(std::to_string(available - layout.data_bytes) +
                   " unexpected bytes after the data of " + layout.dtype.ToString() +
                   ShapeToString(layout.shape));
  }
  return layout;
}

std::string ShapeRepr(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

// Preamble and padded header for `array`, as numpy writes them.
StatusOr<std::string> MakeHeader(const NDArray& array) {
  if (array.is_null()) return Invalid("cannot write a null NDArray");
  ASSIGN_OR_RETURN(std::string descr, DataTypeToDescr(array.dtype()));
  std::string dict = "{'descr': '" + descr +
                     "', 'fortran_order': False, 'shape': " + ShapeRepr(array.shape()) + ", }";
  for (int major : {1, 2}) {
    size_t preamble = major == 1 ? 10 : 12;
    size_t unpadded = preamble + dict.size() + 1;  // + '\n'
    size_t header_len = dict.size() + 1 + (kArrayAlign - unpadded % kArrayAlign) % kArrayAlign;
    if (major == 1 && header_len > 0xffff) continue;
    std::string out(kMagic);
    out += static_cast<char>(major);
    out += '\0';
    for (size_t i = 0; i < preamble - 8; ++i) {
      out += static_cast<char>((header_len >> (8 * i)) & 0xff);
    }
    out += dict;
    out.append(header_len - dict.size() - 1, ' ');
    out += '\n';
    return out;
  }
  return Invalid("header too large");  // unreachable: version 2.0 takes 4 GiB headers
}

Status FileError(int err, std::string_view action, const std::string& path) {
  std::string message = "npy: cannot " + std::string(action) + " '" + path +
                        "': " + std::error_code(err, std::generic_category()).message();
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFoundError(std::move(message));
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionDeniedError(std::move(message));
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case ENOMEM:
      return ResourceExhaustedError(std::move(message));
    case EISDIR:
      return InvalidArgumentError(std::move(message));
    default:
      return UnavailableError(std::move(message));
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Reads exactly `size` bytes; a short read at end of file is truncation.
Status ReadExactly(std::FILE* f, void* data, size_t size, const std::string& path) {
  if (size == 0) return Status::Ok();
  if (std::fread(data, 1, size, f) == size) return Status::Ok();
  if (std::ferror(f)) return FileError(errno, "read", path);
  return Invalid(path + ": truncated data: the file shrank while being read");
}

Status WriteAll(std::FILE* f, const void* data, size_t size, const std::string& path) {
  if (size == 0 || std::fwrite(data, 1, size, f) == size) return Status::Ok();
  return FileError(errno, "write", path);
}

// "npy: what" -> "npy: path: what", keeping the code.
Status WithPath(const Status& status, const std::string& path) {
  std::string_view message = status.message();
  if (message.starts_with("npy: ")) message.remove_prefix(5);
  return Status(status.code(), "npy: " + path + ": " + std::string(message));
}

}  // namespace

StatusOr<std::string> SerializeNpy(const NDArray& array) {
  ASSIGN_OR_RETURN(std::string out, MakeHeader(array));
  size_t header_size = out.size();
  out.resize(header_size + array.NumBytes());
  RETURN_IF_ERROR(array.CopyToBytes(out.data() + header_size, array.NumBytes()));
  return out;
}

StatusOr<NDArray> ParseNpy(std::string_view bytes) {
  ASSIGN_OR_RETURN(Layout layout, ParseLayout(bytes, bytes.size()));
  ASSIGN_OR_RETURN(NDArray array, NDArray::Empty(layout.shape, layout.dtype, Device::Cpu()));
  RETURN_IF_ERROR(array.CopyFromBytes(bytes.data() + layout.data_offset, layout.data_bytes));
  return array;
}

Status SaveNpy(const std::string& path, const NDArray& array) {
  ASSIGN_OR_RETURN(std::string header, MakeHeader(array));
  NDArray host = array;
  if (array.device().type != kDLCPU) {
    ASSIGN_OR_RETURN(host, array.CopyTo(Device::Cpu()));
  }
  File file(std::fopen(path.c_str(), "wb"));
  if (!file) return FileError(errno, "create", path);
  Status status = WriteAll(file.get(), header.data(), header.size(), path);
  if (status.ok()) status = WriteAll(file.get(), host.data(), host.NumBytes(), path);
  if (std::fclose(file.release()) != 0 && status.ok()) status = FileError(errno, "write", path);
  if (!status.ok()) std::remove(path.c_str());
  return status;
}

StatusOr<NDArray> LoadNpy(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) return FileError(errno, "open", path);
  struct stat st {};
  if (fstat(fileno(file.get()), &st) != 0) return FileError(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return Invalid(path + " is not a regular file");
  auto file_size = static_cast<uint64_t>(st.st_size);

  std::string head(std::min<uint64_t>(file_size, kMaxPreambleBytes), '\0');
  RETURN_IF_ERROR(ReadExactly(file.get(), head.data(), head.size(), path));
  StatusOr<Preamble> preamble = ParsePreamble(head, file_size);
  if (!preamble.ok()) return WithPath(preamble.status(), path);
  // ParsePreamble checked header_end() against the file size (and the header limit).
  size_t have = head.size();
  head.resize(preamble->header_end());
  if (head.size() > have) {
    RETURN_IF_ERROR(ReadExactly(file.get(), head.data() + have, head.size() - have, path));
  }
  StatusOr<Layout> layout = ParseLayout(head, file_size);
  if (!layout.ok()) return WithPath(layout.status(), path);

  ASSIGN_OR_RETURN(NDArray array, NDArray::Empty(layout->shape, layout->dtype, Device::Cpu()));
  if (std::fseek(file.get(), static_cast<long>(layout->data_offset), SEEK_SET) != 0) {
    return FileError(errno, "seek in", path);
  }
  RETURN_IF_ERROR(ReadExactly(file.get(), array.data(), layout->data_bytes, path));
  return array;
}

}  // namespace ferry
