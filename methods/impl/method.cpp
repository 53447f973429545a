#include "vlb/methods/method.h"

namespace vlb {

const char* to_string(Task t) {
  switch (t) {
    case Task::kClassification: return "classification";
    case Task::kGzsl: return "gzsl";
    case Task::kOpenVocab: return "open_vocab";
    case Task::kMultiLabel: return "multilabel";
    case Task::kImageText: return "image_text";
    case Task::kFewShotTextBank: return "fewshot_textbank";
  }
  return "?";
}

std::string task_tag(Task t) { return std::string("task:") + to_string(t); }

}  // namespace vlb
