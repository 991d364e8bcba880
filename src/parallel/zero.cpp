#include "parallel/zero.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "backend/ops.h"
#include "core/error.h"

namespace llmtune::parallel {

// One group's parameters of one kind, flattened.
struct ZeroEngine::Flat {
  int group = 0;
  bool trainable = false;
  bool partitioned = false;  // only this rank's partition of the values is kept (stage 3)
  DType dtype = DType::F32;
  Device device;
  std::vector<model::ParamRef> params;
  std::vector<int64_t> offsets;  // of each parameter in the flat element order
  std::vector<Shape> shapes;
  int64_t numel = 0, padded = 0, part = 0;  // padded = N * part
  Tensor values;                            // whole: resident, or while acquired
  Tensor values_part;  // this rank's partition (a view of values unless partitioned)
  Tensor grads;        // whole gradients: resident (stages 0-1) or while acquired (2-3)
  Tensor grads_part;   // this rank's reduced partition (stages 1-3)
  int uses = 0;        // acquire() nesting
};

namespace {

int64_t round_up(int64_t n, int64_t m) {
  return (n + m - 1) / m * m;
}

void all_reduce_buckets(Communicator& comm, Tensor& flat, int64_t bucket) {
  const int64_t n = flat.numel();
  for (int64_t off = 0; off < n; off += bucket) {
    Tensor piece = flat.narrow(0, off, std::min(bucket, n - off));
    comm.all_reduce(piece);
  }
}

// full holds N partitions of part.numel() elements; this rank's reduced partition is written
// into part (or added to it). A bucket takes the same slice of every partition, packed.
void reduce_scatter_buckets(Communicator& comm, const Tensor& full, Tensor& part, bool accumulate,
                            int64_t bucket) {
  const int w = comm.world_size();
  const int64_t p = part.numel();
  const int64_t chunk = std::max<int64_t>(1, bucket / w);
  for (int64_t off = 0; off < p; off += chunk) {
    const int64_t s = std::min(chunk, p - off);
    Tensor in = full;
    if (s != p) {
      in = Tensor::empty({w * s}, full.dtype(), full.device());
      for (int r = 0; r < w; ++r) in.narrow(0, r * s, s).copy_(full.narrow(0, r * p + off, s));
    }
    Tensor dst = part.narrow(0, off, s);
    if (!accumulate) {
      comm.reduce_scatter(in, dst);
      continue;
    }
    Tensor sum = Tensor::empty({s}, part.dtype(), part.device());
    comm.reduce_scatter(in, sum);
    ops::add(dst, sum);
  }
}

// The inverse: every rank's part into full. part may be this rank's own chunk of full.
void all_gather_buckets(Communicator& comm, const Tensor& part, Tensor& full, int64_t bucket) {
  const int w = comm.world_size();
  const int64_t p = part.numel();
  const int64_t chunk = std::max<int64_t>(1, bucket / w);
  for (int64_t off = 0; off < p; off += chunk) {
    const int64_t s = std::min(chunk, p - off);
    if (s == p) {
      comm.all_gather(part, full);
      continue;
    }
    Tensor out = Tensor::empty({w * s}, full.dtype(), full.device());
    comm.all_gather(part.narrow(0, off, s), out);
    for (int r = 0; r < w; ++r) {
      if (r == comm.rank() && part.shares_storage(full)) continue;  // already in place
      full.narrow(0, r * p + off, s).copy_(out.narrow(0, r * s, s));
    }
  }
}

}  // namespace

ZeroEngine::ZeroEngine(model::LlamaModel& model, Communicator& comm, const ZeroOptions& options)
    : model_(model), comm_(comm), options_(options) {
  if (options.stage < 0 || options.stage > 3) {
    throw Error(str("zero_optimization.stage must be 0, 1, 2 or 3, got ", options.stage));
  }
  if (options.reduce_bucket_size < 1 || options.allgather_bucket_size < 1 ||
      options.prefetch_bucket_size < 1) {
    throw Error(str("ZeRO bucket sizes must be positive, got reduce_bucket_size ",
                    options.reduce_bucket_size, ", allgather_bucket_size ",
                    options.allgather_bucket_size, ", stage3_prefetch_bucket_size ",
                    options.prefetch_bucket_size));
  }
  build(model.parameter_groups());
  model_.set_param_hooks(this);
}

ZeroEngine::~ZeroEngine() {
  model_.set_param_hooks(nullptr);
  // Leave the model whole. Gathering is collective: not while unwinding from an error, when
  // other ranks may not be here.
  const bool unwinding = std::uncaught_exceptions() > 0;
  try {
    if (!unwinding) finish_prefetch(false);
  } catch (const std::exception&) {
  }
  pending_.clear();  // waits
  for (Flat& f : flats_) {
    try {
      if (f.partitioned && !f.values.defined() && !unwinding) gather(f);
      if (f.trainable && !f.grads.defined()) {
        f.grads = Tensor::zeros({f.padded}, DType::F32, f.device);
        bind_grads(f);
      }
    } catch (const std::exception&) {
      // The model stays partitioned; nothing more can be done in a destructor.
    }
  }
}

void ZeroEngine::build(const std::vector<std::vector<model::ParamRef>>& groups) {
  const int w = comm_.world_size(), rank = comm_.rank();
  const int stage = options_.stage;
  by_group_.assign(groups.size(), {});
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const model::ParamRef& p : groups[g]) {
      const bool trainable = p.grad != nullptr;
      const bool partitioned =
          stage == 3 && p.value->numel() >= options_.param_persistence_threshold;
      if (!trainable && !partitioned) {  // frozen and whole: left where it is
        resident_frozen_bytes_ += static_cast<int64_t>(p.value->nbytes());
        continue;
      }
      const DType dtype = p.value->dtype();
      Flat* flat = nullptr;
      for (size_t i : by_group_[g]) {
        Flat& f = flats_[i];
        if (f.trainable == trainable && f.partitioned == partitioned && f.dtype == dtype) flat = &f;
      }
      if (flat == nullptr) {
        by_group_[g].push_back(flats_.size());
        flat = &flats_.emplace_back();
        flat->group = static_cast<int>(g);
        flat->trainable = trainable;
        flat->partitioned = partitioned;
        flat->dtype = dtype;
        flat->device = p.value->device();
      }
      flat->params.push_back(p);
      flat->offsets.push_back(flat->numel);
      flat->shapes.push_back(p.value->shape());
      flat->numel += p.value->numel();
    }
  }
  for (Flat& f : flats_) {
    f.padded = round_up(f.numel, w);
    f.part = f.padded / w;
    Tensor whole = Tensor::zeros({f.padded}, f.dtype, f.device);
    for (size_t i = 0; i < f.params.size(); ++i) {
      const Tensor& v = *f.params[i].value;
      whole.narrow(0, f.offsets[i], v.numel()).copy_(v.view({v.numel()}));
    }
    if (f.partitioned) {
      f.values_part = whole.narrow(0, rank * f.part, f.part).clone();
      for (const model::ParamRef& p : f.params) *p.value = Tensor();
    } else {
      f.values = whole;
      f.values_part = f.values.narrow(0, rank * f.part, f.part);
      bind_values(f);
    }
    if (!f.trainable) continue;
    if (stage <= 1) {
      f.grads = Tensor::zeros({f.padded}, DType::F32, f.device);
      bind_grads(f);
    } else {
      for (const model::ParamRef& p : f.params) *p.grad = Tensor();
    }
    if (stage == 1 && w == 1) {
      f.grads_part = f.grads;  // one rank: the whole gradient is its partition
    } else if (stage >= 1) {
      f.grads_part = Tensor::zeros({f.part}, DType::F32, f.device);
    }
  }
  // What the optimizer updates.
  for (Flat& f : flats_) {
    if (!f.trainable) continue;
    const int64_t lo = rank * f.part, hi = lo + f.part;
    for (size_t i = 0; i < f.params.size(); ++i) {
      const model::ParamRef& p = f.params[i];
      const int64_t n = shape_numel(f.shapes[i]);
      if (stage == 0) {
        shard_.push_back(p);
        pieces_.push_back({p.name, 0, n, f.shapes[i]});
        continue;
      }
      const int64_t a = std::max(lo, f.offsets[i]), b = std::min(hi, f.offsets[i] + n);
      if (a >= b) continue;
      // A whole parameter keeps its shape (one rank: the optimizer state looks unsharded).
      const Shape shape = b - a == n ? f.shapes[i] : Shape{b - a};
      Tensor* value =
          &shard_tensors_.emplace_back(f.values_part.narrow(0, a - lo, b - a).view(shape));
      Tensor* grad =
          &shard_tensors_.emplace_back(f.grads_part.narrow(0, a - lo, b - a).view(shape));
      shard_.push_back({p.name, value, grad, p.decay});
      pieces_.push_back({p.name, a - f.offsets[i], b - a, f.shapes[i]});
    }
  }
}

void ZeroEngine::bind_values(Flat& f) {
  for (size_t i = 0; i < f.params.size(); ++i) {
    *f.params[i].value =
        f.values.narrow(0, f.offsets[i], shape_numel(f.shapes[i])).view(f.shapes[i]);
  }
}

void ZeroEngine::bind_grads(Flat& f) {
  for (size_t i = 0; i < f.params.size(); ++i) {
    *f.params[i].grad = f.grads.narrow(0, f.offsets[i], shape_numel(f.shapes[i])).view(f.shapes[i]);
  }
}

void ZeroEngine::gather(Flat& f) {
  f.values = Tensor::empty({f.padded}, f.dtype, f.device);
  all_gather_buckets(comm_, f.values_part, f.values, options_.prefetch_bucket_size);
  bind_values(f);
}

void ZeroEngine::acquire(int group, bool grads, int next) {
  if (prefetched_ >= 0) finish_prefetch(prefetched_ == group);
  for (size_t i : by_group_.at(static_cast<size_t>(group))) {
    Flat& f = flats_[i];
    if (f.partitioned && f.uses++ == 0) {
      if (f.values.defined()) {
        bind_values(f);  // prefetched
      } else {
        gather(f);
      }
    }
    if (grads && f.trainable && !f.grads.defined()) {
      f.grads = Tensor::zeros({f.padded}, DType::F32, f.device);
      bind_grads(f);
    }
  }
  if (options_.stage == 3) prefetch(next);
}

void ZeroEngine::prefetch(int group) {
  if (group < 0 || group >= static_cast<int>(by_group_.size())) return;
  int64_t elements = 0;
  for (size_t i : by_group_[static_cast<size_t>(group)]) {
    const Flat& f = flats_[i];
    if (!f.partitioned) continue;
    if (f.uses > 0 || f.values.defined()) return;  // already here
    elements += f.padded;
  }
  if (elements == 0 || elements > options_.prefetch_bucket_size) return;
  for (size_t i : by_group_[static_cast<size_t>(group)]) {
    Flat& f = flats_[i];
    if (!f.partitioned) continue;
    f.values = Tensor::empty({f.padded}, f.dtype, f.device);
    pending_.push_back(comm_.all_gather_start(f.values_part, f.values));
  }
  prefetched_ = group;
}

// Waits for the prefetch in flight; unless it is kept for use, frees what it gathered.
void ZeroEngine::finish_prefetch(bool keep) {
  for (auto& p : pending_) p->wait();
  pending_.clear();
  if (!keep && prefetched_ >= 0) {
    for (size_t i : by_group_[static_cast<size_t>(prefetched_)]) {
      Flat& f = flats_[i];
      if (f.partitioned && f.uses == 0) f.values = Tensor();
    }
  }
  prefetched_ = -1;
}

void ZeroEngine::release(int group) {
  for (size_t i : by_group_.at(static_cast<size_t>(group))) {
    Flat& f = flats_[i];
    if (!f.partitioned || --f.uses > 0) continue;
    for (const model::ParamRef& p : f.params) *p.value = Tensor();
    f.values = Tensor();
  }
}

void ZeroEngine::grads_ready(int group) {
  if (options_.stage < 2) return;
  for (size_t i : by_group_.at(static_cast<size_t>(group))) {
    Flat& f = flats_[i];
    if (!f.trainable || !f.grads.defined()) continue;
    reduce_scatter_buckets(comm_, f.grads, f.grads_part, true, options_.reduce_bucket_size);
    for (const model::ParamRef& p : f.params) *p.grad = Tensor();
    f.grads = Tensor();
  }
}

void ZeroEngine::reduce_gradients() {
  for (Flat& f : flats_) {
    if (!f.trainable) continue;
    switch (options_.stage) {
      case 0:
        if (comm_.world_size() > 1) all_reduce_buckets(comm_, f.grads, options_.reduce_bucket_size);
        break;
      case 1:
        if (comm_.world_size() > 1)
          reduce_scatter_buckets(comm_, f.grads, f.grads_part, false, options_.reduce_bucket_size);
        break;
      default:
        LLMTUNE_CHECK(!f.grads.defined(), "the gradients of parameter group ", f.group,
                      " were never reduced: backward did not report them ready");
    }
  }
}

double ZeroEngine::grad_norm() {
  if (shard_.empty() && options_.stage == 0) return 0.0;
  Tensor acc = Tensor::zeros({1}, DType::F32, Device::cpu());
  for (const model::ParamRef& p : shard_) ops::sum_squares(acc, *p.grad);
  if (options_.stage >= 1 && comm_.world_size() > 1) comm_.all_reduce(acc);
  return std::sqrt(static_cast<double>(acc.item()));
}

void ZeroEngine::publish_parameters() {
  if (options_.stage == 0 || comm_.world_size() == 1) return;
  for (Flat& f : flats_) {
    if (f.trainable && !f.partitioned) {
      all_gather_buckets(comm_, f.values_part, f.values, options_.allgather_bucket_size);
    }
  }
}

void ZeroEngine::zero_grad() {
  for (Flat& f : flats_) {
    if (f.grads.defined()) f.grads.zero_();
    if (f.grads_part.defined() && !f.grads_part.shares_storage(f.grads)) f.grads_part.zero_();
  }
}

void ZeroEngine::gather_all() {
  const int n = static_cast<int>(by_group_.size());
  for (int g = 0; g < n; ++g) acquire(g, false, g + 1 < n ? g + 1 : -1);
}

void ZeroEngine::release_all() {
  for (int g = 0; g < static_cast<int>(by_group_.size()); ++g) release(g);
}

std::vector<ShardPiece> ZeroEngine::trainable() const {
  std::vector<ShardPiece> out;
  for (const Flat& f : flats_) {
    if (!f.trainable) continue;
    for (size_t i = 0; i < f.params.size(); ++i)
      out.push_back({f.params[i].name, 0, shape_numel(f.shapes[i]), f.shapes[i]});
  }
  return out;
}

void ZeroEngine::keep_gathered() {
  for (Flat& f : flats_) {
    if (f.partitioned && f.values.defined())
      f.values_part.copy_(f.values.narrow(0, comm_.rank() * f.part, f.part));
  }
}

ZeroMemory ZeroEngine::accounted() const {
  ZeroMemory m;
  m.parameters = resident_frozen_bytes_;
  for (const Flat& f : flats_) {
    const int64_t size = static_cast<int64_t>(dtype_size(f.dtype));
    m.parameters += (f.partitioned ? f.part : f.padded) * size;
    if (!f.trainable) continue;
    if (options_.stage <= 1) m.gradients += f.padded * 4;
    if (options_.stage >= 2 || (options_.stage == 1 && comm_.world_size() > 1))
      m.gradients += f.part * 4;
  }
  for (const ShardPiece& p : pieces_) m.optimizer += 2 * 4 * p.count;
  return m;
}

}  // namespace llmtune::parallel
