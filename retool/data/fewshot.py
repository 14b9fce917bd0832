"""System prompt and few-shot examples that show a small model how to use the code interpreter.

Small instruct models (SmolLM2-135M, the embedded default) call tools only when shown examples, and
their chat templates often know nothing of `tools=`; so the tool is described in the system prompt
(hermes style by default), and three worked examples show the whole cycle: a `<tool_call>` with
`code_interpreter`, the interpreter's output as a `tool` message, and a final `\\boxed{}` answer.
ReTool's `<code>` and fenced-python formats are available too (`call_format=`), with the output
as a `tool` message or as `<interpreter>...</interpreter>` text (`observation_format=`).

    from retool.data.fewshot import build_messages
    messages = build_messages("What is 6 times 7?")          # system + examples + the problem
    messages = build_messages("...", fewshot=False)          # system + the problem only

The examples are plain `content` strings (the call written out as text) rather than structured
`tool_calls`, so they render identically through any ChatML-style template, including ones that
cannot render `tool_calls`.
"""

from __future__ import annotations

import json

from ..formats import CallFormat, ObservationFormat, render_call, render_interpreter, tool_schema

def system_prompt(call_format: str = "hermes") -> str:
    """The system prompt describing the tool and how to call it in ``call_format``."""
    call_format = CallFormat.parse(call_format)
    example = render_call("print(1 + 1)", call_format)
    example += "" if example.endswith("\n") else "\n"
    text = (
        "You are a helpful assistant that solves math problems. You can run Python with the "
        "code_interpreter tool. To call it, write:\n" + example
        + "The tool returns what the code prints. Then give the final answer as \\boxed{answer}."
    )
    if call_format is CallFormat.HERMES:
        text += "\n<tools>\n" + json.dumps(tool_schema()) + "\n</tools>"
    return text


SYSTEM_PROMPT = system_prompt("hermes")


def call_text(code: str, call_format: str = "hermes") -> str:
    """The call block for ``code`` as the model is shown to write it (`retool.formats.render_call`)."""
    return render_call(code, call_format)


def tool_call_text(code: str) -> str:
    """The hermes tool-call block for ``code``."""
    return call_text(code, "hermes")


# (problem, reasoning before the call, code, tool output, final answer text)
EXAMPLES: list[tuple[str, str, str, str, str]] = [
    (
        "What is 17 multiplied by 23?",
        "I will compute it with Python.",
        "print(17 * 23)",
        "391",
        "The answer is \\boxed{391}.",
    ),
    (
        "What is the sum of all integers from 1 to 50?",
        "I will compute it with Python.",
        "print(sum(range(1, 51)))",
        "1275",
        "The answer is \\boxed{1275}.",
    ),
    (
        "How many ways are there to choose 2 people from a group of 6?",
        "I will compute it with Python.",
        "import math\nprint(math.comb(6, 2))",
        "15",
        "The answer is \\boxed{15}.",
    ),
]


def fewshot_messages(call_format: str = "hermes", observation_format: str = "chat") -> list[dict]:
    """The worked examples as chat messages.

    ``observation_format="chat"``: user, assistant call, ``tool`` message with the output, assistant
    answer (what the rollout produces through the chat template). ``"interpreter"``: user, one assistant
    message holding the call, ``<interpreter>`` output and the answer (ReTool's single-turn layout).
    """
    observation_format = ObservationFormat.parse(observation_format)
    messages: list[dict] = []
    for problem, before, code, output, answer in EXAMPLES:
        messages.append({"role": "user", "content": problem})
        call = before + "\n" + call_text(code, call_format)
        if observation_format is ObservationFormat.CHAT:
            messages.append({"role": "assistant", "content": call})
            messages.append({"role": "tool", "content": output})
            messages.append({"role": "assistant", "content": answer})
        else:
            # the same glue the rollout puts around an observation in "interpreter" format
            messages.append({"role": "assistant", "content": call + render_interpreter(output) + answer})
    return messages


def build_messages(problem: str, fewshot: bool = True, *, call_format: str = "hermes",
                   observation_format: str = "chat", system_prompt: str | None = None) -> list[dict]:
    """Chat messages for one problem: the system prompt, the worked examples (if ``fewshot``), the problem."""
    system = globals()["system_prompt"](call_format) if system_prompt is None else system_prompt
    messages = [{"role": "system", "content": system}]
    if fewshot:
        messages.extend(fewshot_messages(call_format, observation_format))
    messages.append({"role": "user", "content": problem})
    return messages
