"""Three same-result shortcuts in GX 1.24.1's per-expectation bookkeeping.

A small partition's GX cost is almost all bookkeeping (~2.5 ms per expectation and run, the
rows take microseconds), and most of it is the same work repeated:

1. `Expectation._get_domain_kwargs`, `_get_success_kwargs` and `_get_runtime_kwargs` read
   `self.configuration` once per key; that property rebuilds an `ExpectationConfiguration` on
   every access (a pydantic `.dict()` plus a snake-case regex over the class name), ~100 times
   per expectation and run. Here each call reads it once. Same keys, same values, same order.
2. `IDDict.to_id` (the id of every metric configuration) converts its kwargs with
   `convert_to_json_serializable`, which sends every `None` through a chain of numpy dtype
   tests. Plain JSON values (None, str, int, bool, and dicts, lists and tuples of them) are
   returned as that function returns them; anything else still goes through it.
3. A `$PARAMETER` that is a bare name given in the run's parameters (our month window) is
   looked up directly instead of being parsed by the pyparsing expression grammar first, which
   then returns exactly that lookup. Expressions still go through the parser.

Applied once per process, only on the GX version they were written against (another version
runs unpatched: slower, never different). tests/test_validate_gx_speedups.py compares each
shortcut with GX's own function on every expectation of our suites.
"""

from __future__ import annotations

import re

GX_VERSION = "1.24.1"
# GX's functions as they were before `apply` (for the equivalence tests).
ORIGINALS: dict[str, object] = {}
_PARAMETER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def apply() -> bool:
    """Install the shortcuts; True if they are (or already were) installed."""
    import great_expectations as gx

    if ORIGINALS:
        return True
    if gx.__version__ != GX_VERSION:
        return False
    from great_expectations.core import id_dict, suite_parameters
    from great_expectations.expectations.expectation import Expectation

    ORIGINALS.update(
        domain_kwargs=Expectation._get_domain_kwargs,
        success_kwargs=Expectation._get_success_kwargs,
        runtime_kwargs=Expectation._get_runtime_kwargs,
        convert_to_json_serializable=id_dict.convert_to_json_serializable,
        parse_suite_parameter=suite_parameters.parse_suite_parameter,
    )
    Expectation._get_domain_kwargs = _get_domain_kwargs
    Expectation._get_success_kwargs = _get_success_kwargs
    Expectation._get_runtime_kwargs = _get_runtime_kwargs
    id_dict.convert_to_json_serializable = plain_json
    suite_parameters.parse_suite_parameter = parse_suite_parameter
    return True


def remove() -> None:
    """Put GX's own functions back (tests compare whole validation results both ways)."""
    if not ORIGINALS:
        return
    from great_expectations.core import id_dict, suite_parameters
    from great_expectations.expectations.expectation import Expectation

    Expectation._get_domain_kwargs = ORIGINALS["domain_kwargs"]
    Expectation._get_success_kwargs = ORIGINALS["success_kwargs"]
    Expectation._get_runtime_kwargs = ORIGINALS["runtime_kwargs"]
    id_dict.convert_to_json_serializable = ORIGINALS["convert_to_json_serializable"]
    suite_parameters.parse_suite_parameter = ORIGINALS["parse_suite_parameter"]
    ORIGINALS.clear()


def _get_domain_kwargs(self, kwargs: dict | None = None) -> dict:
    kwargs = self.configuration.kwargs if kwargs is None else kwargs
    return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}


def _get_success_kwargs(self, kwargs: dict | None = None) -> dict:
    kwargs = self.configuration.kwargs if kwargs is None else kwargs
    domain = _get_domain_kwargs(self, kwargs)
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update(domain)
    return success


def _success_kwarg(self, kwargs: dict, key: str):
    # GX's _get_success_kwarg with the configuration's kwargs given (it warns about an unknown
    # key; the runtime keys of GX's own classes are all fields)
    if key in kwargs:
        return kwargs[key]
    field = self.__fields__.get(key)
    return field.default if field is not None and not field.required else None


def _get_runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:
    from great_expectations.expectations.expectation import parse_result_format

    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    success = _get_success_kwargs(self, kwargs)
    runtime = {
        key: runtime_configuration.get(key, _success_kwarg(self, kwargs, key))
        for key in self.runtime_keys
    }
    runtime.update(success)
    runtime["result_format"] = parse_result_format(runtime["result_format"])
    return runtime


def plain_json(data):
    kind = type(data)
    if data is None or kind is str or kind is int or kind is bool:
        return data
    if kind is dict:
        return {str(k): plain_json(v) for k, v in data.items()}
    if kind is list or kind is tuple:
        return [plain_json(v) for v in data]
    return ORIGINALS["convert_to_json_serializable"](data)


def parse_suite_parameter(parameter_expression, suite_parameters=None, data_context=None):
    if (
        suite_parameters
        and isinstance(parameter_expression, str)
        and _PARAMETER_NAME.match(parameter_expression)
        and parameter_expression in suite_parameters
    ):
        return suite_parameters[parameter_expression]
    return ORIGINALS["parse_suite_parameter"](parameter_expression, suite_parameters, data_context)
