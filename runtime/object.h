// Intrusive reference counting for the values that cross type erasure (NDArray, Module,
// PackedFunc). Everything else in Ferry uses std::unique_ptr.
//
// Object is the base of a node; ObjectPtr<T> is a shared, thread-safe counted pointer to it.
#ifndef FERRY_RUNTIME_OBJECT_H_
#define FERRY_RUNTIME_OBJECT_H_

#include <atomic>
#include <cstdint>
#include <utility>

namespace ferry {

class Object {
 public:
  Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  virtual ~Object() = default;

  void IncRef() const { ref_count_.fetch_add(1, std::memory_order_relaxed); }
  void DecRef() const {
    if (ref_count_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  int32_t use_count() const { return ref_count_.load(std::memory_order_relaxed); }

 private:
  mutable std::atomic<int32_t> ref_count_{0};
};

template <typename T>
class ObjectPtr {
 public:
  ObjectPtr() = default;
  ObjectPtr(std::nullptr_t) {}  // NOLINT
  // Adopts `ptr` (a freshly created node or one already owned elsewhere) and counts it.
  explicit ObjectPtr(T* ptr) : ptr_(ptr) {
    if (ptr_) ptr_->IncRef();
  }
  ObjectPtr(const ObjectPtr& other) : ObjectPtr(other.ptr_) {}
  ObjectPtr(ObjectPtr&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
  template <typename U>
  ObjectPtr(const ObjectPtr<U>& other) : ObjectPtr(static_cast<T*>(other.get())) {}  // NOLINT
  ~ObjectPtr() { reset(); }

  ObjectPtr& operator=(ObjectPtr other) noexcept {
    std::swap(ptr_, other.ptr_);
    return *this;
  }

  void reset() {
    if (ptr_) std::exchange(ptr_, nullptr)->DecRef();
  }
  T* get() const { return ptr_; }
  T* operator->() const { return ptr_; }
  T& operator*() const { return *ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }
  friend bool operator==(const ObjectPtr& a, const ObjectPtr& b) { return a.ptr_ == b.ptr_; }

 private:
  T* ptr_ = nullptr;
};

template <typename T, typename... Args>
ObjectPtr<T> MakeObject(Args&&... args) {
  return ObjectPtr<T>(new T(std::forward<Args>(args)...));
}

}  // namespace ferry

#endif  // FERRY_RUNTIME_OBJECT_H_
