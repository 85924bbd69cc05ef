// The peer of `flowctl test` in scripts/bench-test.sh: runs a flow's mocked test cases on
// aws-local-stepfunctions (a TypeScript ASL interpreter), on the document `flowctl compile`
// wrote, with every Lambda Task answered by a local handler from the case's mocks, and checks
// each outcome against the case's expectations, as `flowctl test` does.
//
// Usage: node alsf_test_bench.mjs < {"definition", "cases": [case], "in_flight"?: N}
//                                 > {"executions", "in_flight", "seconds", "passed", "failed": [first few], "node"}
//
// A case is the test file's case as JSON: {"name", "input", "mocks": {function: mock},
// "expect": {"output"? | "output_includes"?, "error"?, "cause"?, "calls"?}}. A mock is
// {"return": value}, {"throw": {"error", "cause"}} (one answer for every call), or a list of
// those, each with an optional "times": N, answering call 1, call 2, … in order.
//
// The handlers answer what the compiled Task sends, as flowctl's mocks do (by function, never
// by state): a unit serving several functions gets the envelope {"function", "payload"}; a
// fused chain {"chain": [{"function", "payload", "bind"?}], "vars"} runs its steps in order,
// each argument built from `vars` and the earlier results ({"$var": name or [name, key, …]},
// {"$literal": x}), and answers {"results": {bind: result}, "complete": true}, or stops at a
// missing path with {"results", "stopped"}; any other payload goes to the unit's one function
// (the unit named by FunctionName's `${unit:NAME}`). Answers are wrapped as the lambda:invoke
// integration wraps them ({"ExecutedVersion", "Payload", "StatusCode"}); a throw fails the
// Task with that error and cause (what Retry and Catch match). Retry pauses are overridden to
// 0 ms (flowctl test runs retries on a virtual clock).
//
// The machine is built (and validated) once; each execution gets its own handlers (its own
// call counters and call log). `in_flight` executions run at a time (1: one after another).
// Timed: from the first execution's start to the last one's checked outcome, no warm-up.

import { StateMachine, allStates, answerAndExit } from "./alsf_common.mjs";

class TaskFailure extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

class PathNotFound extends Error {}

// A case's answers by function: a list of answers (one per call) or one answer for every call.
function answersOf(mocks) {
  const out = {};
  for (const [fn, mock] of Object.entries(mocks ?? {})) {
    if (Array.isArray(mock)) {
      const list = [];
      for (const entry of mock) for (let i = 0; i < (entry.times ?? 1); i++) list.push(entry);
      out[fn] = { list };
    } else {
      out[fn] = { every: mock };
    }
  }
  return out;
}

// One execution's mocked functions: call counters and the call log.
function mocked(answers) {
  const counts = {};
  const calls = [];
  const problems = [];
  const call = (fn) => {
    calls.push(fn);
    const n = (counts[fn] = (counts[fn] ?? 0) + 1);
    const a = answers[fn];
    const answer = a === undefined ? undefined : a.every ?? a.list[n - 1];
    if (answer === undefined) {
      problems.push(a === undefined ? `${fn} is not mocked` : `${fn}: answers used up`);
      throw new TaskFailure(a === undefined ? "flowctl.NotMocked" : "flowctl.MockExhausted", fn);
    }
    if (answer.throw) throw new TaskFailure(answer.throw.error, answer.throw.cause ?? "");
    return answer.return ?? null;
  };
  return { call, calls, problems };
}

// A chain step's argument: the template with its `$var` and `$literal` nodes replaced.
function resolve(template, vars) {
  if (Array.isArray(template)) return template.map((t) => resolve(t, vars));
  if (template === null || typeof template !== "object") return template;
  if ("$literal" in template) return template.$literal;
  if ("$var" in template) {
    const [name, ...path] = Array.isArray(template.$var) ? template.$var : [template.$var];
    if (!(name in vars)) throw new PathNotFound(`no variable ${name}`);
    let value = vars[name];
    for (const step of path) {
      if (value === null || typeof value !== "object" || !(step in value)) throw new PathNotFound(`${name}: no ${step}`);
      value = value[step];
    }
    return value;
  }
  const out = {};
  for (const [k, v] of Object.entries(template)) out[k] = resolve(v, vars);
  return out;
}

// What a unit does with a payload: a fused chain, an envelope, or its one function's call.
function unitAnswer(call, unit, payload) {
  if (payload && typeof payload === "object" && Array.isArray(payload.chain)) {
    const vars = { ...(payload.vars ?? {}) };
    const results = {};
    for (const [index, step] of payload.chain.entries()) {
      let argument;
      try {
        argument = resolve(step.payload, vars);
      } catch (e) {
        if (!(e instanceof PathNotFound)) throw e;
        return { results, stopped: { step: index + 1, function: step.function, reason: e.message } };
      }
      const output = call(step.function, argument);
      if (step.bind) vars[step.bind] = results[step.bind] = output;
    }
    return { results, complete: true };
  }
  if (payload && typeof payload === "object" && typeof payload.function === "string" && "payload" in payload) {
    return call(payload.function, payload.payload);
  }
  return call(unit, payload);
}

function handlersFor(definition, call) {
  const handlers = {};
  for (const [name, state] of allStates(definition).filter(([, s]) => s.Type === "Task")) {
    const target = state.Parameters?.FunctionName ?? state.Resource;
    const unit = /^\$\{unit:(.*)\}$/.exec(target)?.[1] ?? target;
    handlers[name] = async (input) => ({ ExecutedVersion: "$LATEST", Payload: unitAnswer(call, unit, input?.Payload), StatusCode: 200 });
  }
  return handlers;
}

function equal(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => k in b && equal(a[k], b[k]));
}

// `expected` is a part of `actual`: objects key by key (recursively), anything else equal.
function includes(actual, expected) {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    return actual !== null && typeof actual === "object" && !Array.isArray(actual)
      && Object.entries(expected).every(([k, v]) => k in actual && includes(actual[k], v));
  }
  return equal(actual, expected);
}

function verdict(expect, outcome, calls, problems) {
  const wrong = [...problems];
  if (expect.error !== undefined) {
    if (outcome.status !== "FAILED" || outcome.error !== expect.error) wrong.push(`expected error ${expect.error}, got ${outcome.status} ${outcome.error ?? ""}`);
    if (expect.cause !== undefined && outcome.cause !== expect.cause) wrong.push(`expected cause ${JSON.stringify(expect.cause)}, got ${JSON.stringify(outcome.cause)}`);
  } else if (outcome.status !== "SUCCEEDED") {
    wrong.push(`expected success, got ${outcome.error}: ${outcome.cause}`);
  }
  if (expect.output !== undefined && !equal(outcome.output, expect.output)) wrong.push(`output differs: ${JSON.stringify(outcome.output)}`);
  if (expect.output_includes !== undefined && !includes(outcome.output, expect.output_includes)) wrong.push(`output lacks: ${JSON.stringify(outcome.output)}`);
  if (expect.calls !== undefined && !equal(calls, expect.calls)) wrong.push(`calls differ: ${calls.join(", ")}`);
  return wrong;
}

async function runCase(sm, definition, retries, c) {
  const { call, calls, problems } = mocked(answersOf(c.mocks));
  const overrides = { taskResourceLocalHandlers: handlersFor(definition, call), retryIntervalOverrides: retries };
  const execution = sm.run(c.input ?? {}, { overrides });
  let outcome;
  try {
    outcome = { status: "SUCCEEDED", output: await execution.result };
  } catch (e) {
    const cause = e?.name === "ExecutionError" && e.cause ? e.cause : e;
    outcome = { status: "FAILED", error: cause?.name ?? "Error", cause: typeof cause?.cause === "string" ? cause.cause : cause?.message };
  }
  return verdict(c.expect ?? {}, outcome, calls, problems);
}

let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) text += chunk;
const job = JSON.parse(text);
const definition = typeof job.definition === "string" ? JSON.parse(job.definition) : job.definition;
// Paths and ARNs (`${unit:…}` placeholders) are not the interpreter's business here.
const sm = new StateMachine(definition, { validationOptions: { checkPaths: false, checkArn: false } });
const retries = Object.fromEntries(allStates(definition).filter(([, s]) => s.Retry).map(([name]) => [name, 0]));
const cases = job.cases;
const inFlight = Math.max(1, job.in_flight ?? 1);
let passed = 0;
const failed = [];
let next = 0;
const t0 = process.hrtime.bigint();
const worker = async () => {
  while (next < cases.length) {
    const c = cases[next++];
    const wrong = await runCase(sm, definition, retries, c);
    if (wrong.length === 0) passed++;
    else if (failed.length < 5) failed.push({ name: c.name, wrong });
    else failed.push({ name: c.name });
  }
};
await Promise.all(Array.from({ length: inFlight }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
answerAndExit({ executions: cases.length, in_flight: inFlight, seconds, passed, failed: failed.slice(0, 5), failed_count: failed.length, node: process.version });
