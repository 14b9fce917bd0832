import re
from fractions import Fraction
import operator

# evaluate simple arithmetic strings exactly (the model wrote a tiny shunting-yard parser)
TOKEN = re.compile(r"\s*(?:(\d+)|(.))")
OPS = {'+': (1, operator.add), '-': (1, operator.sub), '*': (2, operator.mul), '/': (2, operator.truediv)}


def tokenize(s):
    for num, op in TOKEN.findall(s):
        yield Fraction(int(num)) if num else op


def evaluate(s):
    out, stack = [], []
    for tok in tokenize(s):
        if isinstance(tok, Fraction):
            out.append(tok)
        elif tok == '(':
            stack.append(tok)
        elif tok == ')':
            while stack[-1] != '(':
                out.append(stack.pop())
            stack.pop()
        else:
            while stack and stack[-1] != '(' and OPS[stack[-1]][0] >= OPS[tok][0]:
                out.append(stack.pop())
            stack.append(tok)
    out.extend(reversed(stack))
    st = []
    for tok in out:
        if type(tok) is Fraction:
            st.append(tok)
        else:
            b, a = st.pop(), st.pop()
            st.append(OPS[tok][1](a, b))
    return st[0]


for expr in ["1/2 + 1/3 + 1/6", "(2 + 3) * (7 - 4) / 9", "100 / (3 * 7) - 4/7"]:
    print(expr, "=", evaluate(expr))
print(re.findall(r"\d+", "AIME 2024 problem 15, answer 104"))
