// The properties AidFlow reads from a process file (docs/bpmn-properties.md), as entries of
// bpmn-js-properties-panel, labelled in Chinese. Only what an administrator changes often is here:
// a step's role, time limit and form, a lane's role, an end event's outcome, a timer, a condition.
// Everything else stays as the file says (the panel never rewrites what it does not show).
import { SelectEntry, TextAreaEntry, TextFieldEntry } from "@bpmn-io/properties-panel";
import { Group } from "@bpmn-io/properties-panel";
import { jsx } from "@bpmn-io/properties-panel/preact/jsx-runtime";
import { useService } from "bpmn-js-properties-panel";

// AidFlow's own properties live in spiffworkflow:properties (camunda:properties is read too). The
// spiffworkflow namespace is left to bpmn-js's generic reading on purpose: a descriptor of ours
// would drop every spiffworkflow element it does not list (preScript…) when the file is saved.
const SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";

// A text field applies each change at once: 校验 may follow the last keystroke immediately.
const now = (fn) => fn;

function isSpiff(node, localName) {
  const d = node && node.$descriptor;
  return !!(d && d.isGeneric && d.ns && d.ns.uri === SPIFF && d.ns.localName === localName);
}
function isCamundaProperties(node) {
  return !!(node && node.$instanceOf && node.$instanceOf("camunda:Properties"));
}

export function readProperty(bo, name) {
  for (const node of (bo.extensionElements && bo.extensionElements.values) || []) {
    const items = isSpiff(node, "properties") ? node.$children || [] : isCamundaProperties(node) ? node.values || [] : [];
    const found = items.find((p) => p.name === name && p.value !== undefined);
    if (found) { return found.value; }
  }
  return undefined;
}

// Replaces the element's extension elements with copies where ``name`` is ``value`` (removed when
// empty), in one command (undo works). The property moves into spiffworkflow:properties.
function writeProperty(element, name, value, modeling, moddle) {
  const bo = element.businessObject;
  const old = (bo.extensionElements && bo.extensionElements.values) || [];
  let target = null;
  const values = [];
  for (const node of old) {
    if (isSpiff(node, "properties")) {
      const copy = moddle.createAny(node.$type, SPIFF, {});
      copy.$children = (node.$children || []).filter((p) => !(isSpiff(p, "property") && p.name === name));
      if (!target) { target = copy; }
      values.push(copy);
    } else if (isCamundaProperties(node)) {
      const kept = (node.values || []).filter((p) => p.name !== name);
      if (kept.length) { values.push(moddle.create("camunda:Properties", { values: kept })); }
    } else {
      values.push(node);
    }
  }
  if (value) {
    if (!target) {
      target = moddle.createAny("spiffworkflow:properties", SPIFF, {});
      target.$children = [];
      values.unshift(target);
    }
    const prefix = target.$type.split(":")[0];
    target.$children.push(moddle.createAny(prefix + ":property", SPIFF, { name: name, value: value }));
  }
  const kept = values.filter((node) => !isSpiff(node, "properties") || node.$children.length);
  let extension;
  if (kept.length) {
    extension = moddle.create("bpmn:ExtensionElements", { values: kept });
    extension.$parent = bo;
    kept.forEach((node) => { node.$parent = extension; });
  }
  modeling.updateProperties(element, { extensionElements: extension });
}

function PropertyEntry(props) {
  const { element, id, name, label, description, toShown, fromShown } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  return jsx(TextFieldEntry, {
    element, id, label, description, debounce: now,
    getValue: () => {
      const value = readProperty(element.businessObject, name) || "";
      return toShown ? toShown(value) : value;
    },
    setValue: (shown) => {
      const value = (shown || "").trim();
      writeProperty(element, name, fromShown ? fromShown(value) : value, modeling, moddle);
    }
  });
}

function NameEntry(props) {
  const { element, label } = props;
  const modeling = useService("modeling");
  return jsx(TextFieldEntry, {
    element, id: "aidflow-name", label, debounce: now,
    getValue: () => element.businessObject.name || "",
    setValue: (value) => modeling.updateProperties(element, { name: value || undefined })
  });
}

// county_civil_affairs → 县级民政, with the page's table of names (admin_modeler.html); a key
// whose level is unknown has no name (校验 refuses it).
function roleName(names, key) {
  const m = /^([a-z]+)_([a-z0-9_]+)$/.exec(key || "");
  if (!names || !m || !names.levels[m[1]]) { return ""; }
  return names.levels[m[1]] + (names.departments[m[2]] || m[2]);
}

function RoleEntry(props) {
  const { element } = props;
  const modeling = useService("modeling");
  const named = roleName(useService("config.aidflowRoles", false), element.businessObject.get("camunda:candidateGroups"));
  return jsx(TextFieldEntry, {
    element, id: "aidflow-role", label: "办理角色", debounce: now,
    description: named ? "即" + named + "。" : "角色键“层级_部门”，如 township_civil_affairs；留空则按泳道角色。",
    getValue: () => element.businessObject.get("camunda:candidateGroups") || "",
    setValue: (role) => modeling.updateProperties(element, { "camunda:candidateGroups": (role || "").trim() || undefined })
  });
}

// "10 working days" shows as 10; any other way to write a limit (3 days, by day 20, P7D) as written.
const WORKING_DAYS = /^(\d+) working days?$/;
const toDays = (value) => { const m = WORKING_DAYS.exec(value); return m ? m[1] : value; };
const fromDays = (value) => (/^\d+$/.test(value) ? value + " working days" : value);

const OUTCOMES = [
  { value: "", label: "（未设置）" },
  { value: "approved", label: "批准（approved）" },
  { value: "refused", label: "不予批准（refused）" },
  { value: "withdrawn", label: "撤回（withdrawn）" },
  { value: "terminated", label: "终止（terminated）" }
];
function OutcomeEntry(props) {
  const { element } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  return jsx(SelectEntry, {
    element, id: "aidflow-outcome", label: "结束结果",
    getOptions: () => OUTCOMES,
    getValue: () => readProperty(element.businessObject, "outcome") || "",
    setValue: (value) => writeProperty(element, "outcome", value, modeling, moddle)
  });
}

function timerOf(bo) {
  return ((bo.eventDefinitions) || []).find((d) => d.$instanceOf("bpmn:TimerEventDefinition"));
}
// A written ISO value is stored quoted ("P7D"), as the shipped files do; anything else is an expression.
const ISO = /^(P[0-9YMWDTHS.]+|\d{4}-\d{2}-\d{2}(T[0-9:.]+([+-]\d{2}:\d{2}|Z)?)?)$/;
const unquote = (body) => (/^"[^"]*"$/.test(body) ? body.slice(1, -1) : body);
const quote = (value) => (ISO.test(value) ? '"' + value + '"' : value);

function TimerKindEntry(props) {
  const { element } = props;
  const modeling = useService("modeling");
  const timer = timerOf(element.businessObject);
  return jsx(SelectEntry, {
    element, id: "aidflow-timer-kind", label: "定时方式",
    getOptions: () => [{ value: "timeDuration", label: "时长（到达后等待）" }, { value: "timeDate", label: "日期（到该时刻）" }],
    getValue: () => (timer.timeDate ? "timeDate" : "timeDuration"),
    setValue: (kind) => {
      const expression = timer.timeDate || timer.timeDuration || timer.timeCycle;
      const update = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      update[kind] = expression;
      modeling.updateModdleProperties(element, timer, update);
    }
  });
}
function TimerValueEntry(props) {
  const { element } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  const timer = timerOf(element.businessObject);
  return jsx(TextFieldEntry, {
    element, id: "aidflow-timer", label: "定时", debounce: now,
    description: "ISO 8601 时长或日期（P7D、PT36H、2030-01-01T09:00:00+08:00），或表达式（working_days(5)、notice_end()）。",
    getValue: () => {
      const expression = timer.timeDate || timer.timeDuration || timer.timeCycle;
      return expression && expression.body ? unquote(expression.body) : "";
    },
    setValue: (value) => {
      value = (value || "").trim();
      const kind = timer.timeDate ? "timeDate" : "timeDuration";
      const update = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      update[kind] = value ? moddle.create("bpmn:FormalExpression", { body: quote(value) }) : undefined;
      modeling.updateModdleProperties(element, timer, update);
    }
  });
}

function ConditionEntry(props) {
  const { element } = props;
  const modeling = useService("modeling");
  const moddle = useService("moddle");
  return jsx(TextAreaEntry, {
    element, id: "aidflow-condition", label: "条件", debounce: now, rows: 2,
    description: "Python 表达式，读案件数据，如 decision == \"approve\"。",
    getValue: () => {
      const c = element.businessObject.conditionExpression;
      return (c && c.body) || "";
    },
    setValue: (value) => {
      value = (value || "").trim();
      modeling.updateProperties(element, {
        conditionExpression: value ? moddle.create("bpmn:FormalExpression", { body: value }) : undefined
      });
    }
  });
}

const is = (element, type) => element.businessObject && element.businessObject.$instanceOf(type);

function groupsFor(element) {
  const bo = element.businessObject;
  if (!bo || element.type === "label") { return []; }
  const entries = [];
  // Open from the start: these few entries are what the panel is for.
  const group = (id, label, items) => ({ id, label, component: Group, entries: items, shouldOpen: true });
  const entry = (id, component, extra) => Object.assign({ id, element, component }, extra || {});
  const groups = [];
  if (is(element, "bpmn:Lane")) {
    entries.push(entry("aidflow-name", NameEntry, { label: "泳道名称" }));
    entries.push(entry("aidflow-lane-role", PropertyEntry, {
      name: "role", label: "泳道角色",
      description: "角色键“层级_部门”，如 township_civil_affairs；泳道中没有办理角色的环节由它办理。"
    }));
    return [group("aidflow-lane", "泳道", entries)];
  }
  if (is(element, "bpmn:FlowNode") || is(element, "bpmn:SequenceFlow") || is(element, "bpmn:Participant")) {
    groups.push(group("aidflow-general", "基本信息", [entry("aidflow-name", NameEntry, { label: "环节名称" })]));
  }
  if (is(element, "bpmn:UserTask")) {
    groups.push(group("aidflow-step", "办理", [
      entry("aidflow-role", RoleEntry),
      entry("aidflow-time-limit", PropertyEntry, {
        name: "time_limit", label: "办理时限（工作日）", toShown: toDays, fromShown: fromDays,
        description: "填数字即若干个工作日；也可写 3 days、by day 20 或 P7D。留空则不限时。"
      }),
      entry("aidflow-form", PropertyEntry, {
        name: "form", label: "表单", description: "JSON Schema 文件名，如 review.json（processes/forms/ 或上传包的 forms/）。"
      })
    ]));
  }
  if (is(element, "bpmn:EndEvent")) {
    groups.push(group("aidflow-end", "结束", [entry("aidflow-outcome", OutcomeEntry)]));
  }
  if (is(element, "bpmn:Event") && timerOf(bo)) {
    groups.push(group("aidflow-timer", "定时", [
      entry("aidflow-timer-kind", TimerKindEntry), entry("aidflow-timer", TimerValueEntry)
    ]));
  }
  if (is(element, "bpmn:SequenceFlow") && bo.sourceRef && bo.sourceRef.$instanceOf("bpmn:Gateway")
      && !bo.sourceRef.$instanceOf("bpmn:ParallelGateway") && !bo.sourceRef.$instanceOf("bpmn:EventBasedGateway")
      && bo.sourceRef.default !== bo) {
    groups.push(group("aidflow-condition", "条件", [entry("aidflow-condition", ConditionEntry)]));
  }
  return groups;
}

class AidFlowPropertiesProvider {
  constructor(propertiesPanel) {
    propertiesPanel.registerProvider(500, this);
  }
  getGroups(element) {
    return () => groupsFor(element);
  }
}
AidFlowPropertiesProvider.$inject = ["propertiesPanel"];

export const AidFlowPropertiesModule = {
  __init__: ["aidflowPropertiesProvider"],
  aidflowPropertiesProvider: ["type", AidFlowPropertiesProvider]
};
