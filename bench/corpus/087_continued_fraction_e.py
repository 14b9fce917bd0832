from fractions import Fraction

def e_terms(n):
    # e = [2; 1, 2, 1, 1, 4, 1, 1, 6, ...]
    terms = [2]
    k = 1
    while len(terms) < n:
        terms += [1, 2 * k, 1]
        k += 1
    return terms[:n]

def convergent(terms):
    value = Fraction(terms[-1])
    for t in reversed(terms[:-1]):
        value = t + 1 / value
    return value

c100 = convergent(e_terms(100))
print("numerator digit sum of the 100th convergent:", sum(int(d) for d in str(c100.numerator)))
print("10th convergent:", convergent(e_terms(10)))
print("float:", float(c100))
