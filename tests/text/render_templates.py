#!/usr/bin/python3
"""The jinja2 oracle for llmtune's chat-template interpreter (src/text/jinja).

Renders templates with Debian's python3-jinja2 configured exactly as Transformers'
_compile_jinja_template does:
  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[jinja2.ext.loopcontrols])
  globals raise_exception(message) and strftime_now(format),
  filter tojson = json.dumps(x, ensure_ascii=False, indent, separators, sort_keys).
and writes what it rendered (or which error it raised) for tests/text/jinja_test.cpp to compare
byte for byte.

Inputs (tests/text):
  chat_templates.json  templates, conversations and template-specific cases; each template is
                       rendered for every conversation with add_generation_prompt false and
                       true, with the special tokens Transformers passes (bos_token, ...).
  jinja_cases.json     small templates exercising the language itself.
Outputs (--out DIR): jinja_chat_expected.json, jinja_cases_expected.json, each
  {"jinja2_version": ..., "cases": [{"name", "template", "context", "result"}]}
where result is {"output": text}, {"raised": message} (the template called raise_exception)
or {"error": "ExceptionType: message"}.

Usage:
  /usr/bin/python3 tests/text/render_templates.py --templates tests/text/chat_templates.json \
      --cases tests/text/jinja_cases.json --out build/text
"""

import argparse
import datetime
import json
import os
import sys

try:
    import jinja2
    import jinja2.ext
    import jinja2.sandbox
except ImportError:
    sys.exit("render_templates.py needs python3-jinja2 (apt-get install python3-jinja2)")


class TemplateRaised(jinja2.exceptions.TemplateError):
    """What raise_exception raises: Transformers raises TemplateError; the subclass only lets
    the oracle tell a template's own rejection from other errors."""


def make_environment():
    def raise_exception(message):
        raise TemplateRaised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.datetime.now().strftime(format)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    try:
        return {"output": env.from_string(source).render(**context)}
    except TemplateRaised as e:
        return {"raised": str(e)}
    except Exception as e:  # syntax errors, UndefinedError, SecurityError, TypeError, ...
        return {"error": f"{type(e).__name__}: {e}"}


def chat_cases(spec):
    """Every template with every conversation (add_generation_prompt false and true), then the
    template-specific cases. The context is what Transformers' apply_chat_template passes."""
    templates = {t["name"]: t for t in spec["templates"]}

    def context_for(template, variables):
        ctx = {"tools": None, "documents": None, "add_generation_prompt": False}
        ctx.update(template["special_tokens"])
        ctx.update(template.get("context", {}))
        ctx.update(variables)
        return ctx

    for t in spec["templates"]:
        for conv in spec["conversations"]:
            for gen in (False, True):
                yield (f"{t['name']}/{conv['name']}/gen={str(gen).lower()}", t,
                       context_for(t, {"messages": conv["messages"],
                                       "add_generation_prompt": gen}))
    for case in spec["extra_cases"]:
        t = templates[case["template"]]
        yield f"{t['name']}/{case['name']}", t, context_for(t, case["context"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", required=True)
    parser.add_argument("--cases", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    env = make_environment()
    os.makedirs(args.out, exist_ok=True)

    with open(args.templates, encoding="utf-8") as f:
        spec = json.load(f)
    chat = [{"name": name, "template": t["template"], "context": ctx,
             "result": render(env, t["template"], ctx)}
            for name, t, ctx in chat_cases(spec)]

    with open(args.cases, encoding="utf-8") as f:
        unit = json.load(f)
    cases = []
    for case in unit["cases"]:
        ctx = dict(unit["default_context"])
        ctx.update(case.get("context", {}))
        cases.append({"name": case["name"], "template": case["template"], "context": ctx,
                      "result": render(env, case["template"], ctx)})

    for file_name, rendered in (("jinja_chat_expected.json", chat),
                                ("jinja_cases_expected.json", cases)):
        with open(os.path.join(args.out, file_name), "w", encoding="utf-8") as f:
            json.dump({"jinja2_version": jinja2.__version__, "cases": rendered}, f, indent=1)
            f.write("\n")
    errors = sum("error" in c["result"] for c in chat + cases)
    raised = sum("raised" in c["result"] for c in chat + cases)
    print(f"jinja2 {jinja2.__version__}: {len(chat)} chat renders, {len(cases)} language cases "
          f"({raised} raise_exception, {errors} other errors) -> {args.out}")


if __name__ == "__main__":
    main()
