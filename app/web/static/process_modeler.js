// The process editor on the admin page (admin_modeler.html): bpmn-js's Modeler (vendored, see
// scripts/vendor_docs_assets.sh) with the version's XML; 校验 and 上传 post the edited XML to the
// upload form's endpoint (/ui/admin/processes, with its CSRF token) and read its JSON answer;
// 下载 saves the XML. Every problem found is listed and selects its element when clicked. Beside the
// drawing, the properties panel edits what AidFlow reads from the selected element.
(function () {
  "use strict";
  // The modeler's own words (palette, context pad, the change-element menu) in Chinese.
  var ZH = {
    "Activate hand tool": "抓手工具（拖动画布）",
    "Activate lasso tool": "套索工具（框选）",
    "Activate create/remove space tool": "插入或删除空间",
    "Activate global connect tool": "连线工具",
    "Create start event": "新建开始事件",
    "Create intermediate/boundary event": "新建中间或边界事件",
    "Create end event": "新建结束事件",
    "Create gateway": "新建网关",
    "Create task": "新建任务",
    "Create data object reference": "新建数据对象",
    "Create data store reference": "新建数据存储",
    "Create expanded sub-process": "新建展开的子流程",
    "Create pool/participant": "新建池",
    "Create group": "新建分组",
    "Append end event": "追加结束事件",
    "Append gateway": "追加网关",
    "Append task": "追加任务",
    "Append intermediate/boundary event": "追加中间事件",
    "Append receive task": "追加接收任务",
    "Append message intermediate catch event": "追加消息捕获事件",
    "Append timer intermediate catch event": "追加定时事件",
    "Append signal intermediate catch event": "追加信号捕获事件",
    "Append conditional intermediate catch event": "追加条件捕获事件",
    "Append compensation activity": "追加补偿活动",
    "Add lane above": "在上方添加泳道",
    "Add lane below": "在下方添加泳道",
    "Divide into two lanes": "拆分为两条泳道",
    "Divide into three lanes": "拆分为三条泳道",
    "Add text annotation": "添加文字注释",
    "Change element": "更改元素类型",
    "Delete": "删除",
    "Connect to other element": "连接到其他元素",
    "Connect using association": "用关联连接",
    "Connect using data input association": "用数据输入关联连接",
    "Toggle non-interrupting": "切换为非中断",
    "Search in diagram": "在图中搜索",
    "Search": "搜索",
    "Start event": "开始事件",
    "End event": "结束事件",
    "Terminate end event": "终止结束事件",
    "Message end event": "消息结束事件",
    "Intermediate throw event": "中间抛出事件",
    "Message intermediate catch event": "消息捕获事件",
    "Timer intermediate catch event": "定时捕获事件",
    "Timer boundary event": "定时边界事件",
    "Timer boundary event (non-interrupting)": "定时边界事件（非中断）",
    "Message boundary event": "消息边界事件",
    "Boundary event": "边界事件",
    "Task": "任务",
    "User task": "用户任务",
    "Script task": "脚本任务",
    "Business rule task": "业务规则任务",
    "Receive task": "接收任务",
    "Manual task": "手工任务",
    "Service task": "服务任务",
    "Send task": "发送任务",
    "Call activity": "调用活动",
    "Sub-process": "子流程",
    "Sub-process (collapsed)": "子流程（折叠）",
    "Sub-process (expanded)": "子流程（展开）",
    "Exclusive gateway": "排他网关",
    "Parallel gateway": "并行网关",
    "Inclusive gateway": "包容网关",
    "Event-based gateway": "事件网关",
    "Complex gateway": "复杂网关",
    "Sequence flow": "顺序流",
    "Default flow": "默认流",
    "Conditional flow": "条件流"
  };
  // The properties panel's words; its header names the element's type ("User Task").
  var ZH_PANEL = {
    "Select an element to edit its properties.": "选中图中的元素以编辑其属性。",
    "Multiple elements are selected. Select a single element to edit its properties.": "选中了多个元素，请只选一个以编辑其属性。",
    "Process": "流程",
    "Collaboration": "协作图",
    "Participant": "池",
    "Lane": "泳道",
    "Task": "任务",
    "User Task": "用户任务",
    "Script Task": "脚本任务",
    "Business Rule Task": "业务规则任务",
    "Receive Task": "接收任务",
    "Start Event": "开始事件",
    "End Event": "结束事件",
    "Message Start Event": "消息开始事件",
    "Timer Start Event": "定时开始事件",
    "Message Intermediate Catch Event": "消息捕获事件",
    "Timer Intermediate Catch Event": "定时捕获事件",
    "Intermediate Throw Event": "中间抛出事件",
    "Timer Boundary Event": "定时边界事件",
    "Message Boundary Event": "消息边界事件",
    "Exclusive Gateway": "排他网关",
    "Parallel Gateway": "并行网关",
    "Inclusive Gateway": "包容网关",
    "Event Based Gateway": "事件网关",
    "Sequence Flow": "顺序流",
    "Conditional Flow": "条件流",
    "Default Flow": "默认流",
    "Sub Process": "子流程",
    "Text Annotation": "文字注释",
    "Group": "分组"
  };
  function translate(template, replacements) {
    replacements = replacements || {};
    return (ZH[template] || ZH_PANEL[template] || template).replace(/{([^}]+)}/g, function (all, key) {
      return replacements[key] !== undefined ? replacements[key] : all;
    });
  }

  var box = document.querySelector(".process-modeler");
  if (!box) { return; }
  var key = box.getAttribute("data-key");
  var status = document.getElementById("modeler-status");
  var failure = document.getElementById("modeler-error");
  var list = document.getElementById("modeler-problems");
  var buttons = box.querySelectorAll(".modeler-buttons button");

  function say(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }
  if (!window.BpmnJS) {
    say(failure, "流程编辑器未能加载，请刷新页面。");
    return;
  }
  // The properties panel (its own bundle, see docs/bpmn.md) when it loaded; the drawing works without.
  var panel = window.AidFlowPropertiesPanel;
  var properties = box.querySelector(".modeler-properties");
  properties.hidden = !panel;
  var modeler = new window.BpmnJS({
    container: box.querySelector(".modeler-canvas"),
    additionalModules: [{ translate: ["value", translate] }].concat(panel ? panel.modules : []),
    moddleExtensions: panel ? panel.moddleExtensions : {},
    propertiesPanel: panel ? { parent: properties } : undefined,
    aidflowRoles: JSON.parse(box.getAttribute("data-role-names") || "null")
  });
  box.setAttribute("data-modeler", "loading");
  modeler.importXML(box.getAttribute("data-bpmn-xml")).then(function () {
    modeler.get("canvas").zoom("fit-viewport", "auto");
    box.setAttribute("data-modeler", "ready");
  }).catch(function (error) {
    box.setAttribute("data-modeler", "failed");
    say(failure, "流程文件未能在编辑器中打开：" + (error && error.message || error));
  });

  // The shape of a problem's element; a problem of the process itself selects its pool.
  function shapeOf(id) {
    var registry = modeler.get("elementRegistry");
    return registry.get(id) || registry.filter(function (e) {
      var bo = e.businessObject;
      return bo && bo.processRef && bo.processRef.id === id;
    })[0];
  }
  function select(id) {
    var shape = shapeOf(id);
    if (!shape) { return; }
    modeler.get("selection").select(shape);
    modeler.get("canvas").scrollToElement(shape);
  }

  function showProblems(problems) {
    list.textContent = "";
    list.setAttribute("data-count", String(problems.length));
    problems.forEach(function (p) {
      var item = document.createElement("li");
      var where = (p.line ? "第" + p.line + "行" : "（无行号）") + (p.element_id ? "，元素 " + p.element_id : "");
      if (p.element_id && shapeOf(p.element_id)) {
        var link = document.createElement("button");
        link.type = "button";
        link.className = "link";
        link.setAttribute("data-element-id", p.element_id);
        link.textContent = where;
        link.addEventListener("click", function () { select(p.element_id); });
        item.appendChild(link);
      } else {
        item.appendChild(document.createTextNode(where));
      }
      item.appendChild(document.createTextNode("："));
      var headline = document.createElement("strong");
      headline.textContent = p.headline;
      item.appendChild(headline);
      if (p.detail) { item.appendChild(document.createTextNode("：" + p.detail)); }
      var original = document.createElement("small");
      original.className = "muted";
      original.lang = "en";
      original.textContent = "（" + p.message + "）";
      item.appendChild(document.createTextNode(" "));
      item.appendChild(original);
      list.appendChild(item);
    });
    list.hidden = !problems.length;
  }

  function busy(on) {
    buttons.forEach(function (b) { b.disabled = on; });
  }

  // Posts the edited XML as the upload form would; ``dryRun`` only checks it.
  function send(dryRun) {
    busy(true);
    say(failure, "");
    say(status, dryRun ? "正在校验……" : "正在上传……");
    return modeler.saveXML({ format: true }).then(function (saved) {
      var form = new FormData(document.getElementById("modeler-form"));
      form.append("file", new Blob([saved.xml], { type: "application/xml" }), key + ".bpmn");
      if (dryRun) { form.append("dry_run", "1"); form.delete("comment"); }
      return fetch("/ui/admin/processes", {
        method: "POST", body: form, credentials: "same-origin", headers: { Accept: "application/json" }
      });
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("json") < 0) {
        throw new Error("操作未能完成（HTTP " + response.status + "），请重新登录后再试。");
      }
      return response.json().then(function (body) { answered(dryRun, response.ok, body); });
    }).catch(function (error) {
      say(status, "");
      say(failure, String(error && error.message || error));
    }).then(function () { busy(false); });
  }

  function answered(dryRun, ok, body) {
    status.textContent = "";
    if (!ok) {
      showProblems(body.errors || []);
      say(status, (body.errors || []).length
        ? "发现 " + body.errors.length + " 个问题" + (dryRun ? "" : "，未部署") + "：点击行号可在图中选中该元素。"
        : body.detail);
      return;
    }
    showProblems([]);
    var result = body.result;
    if (dryRun) {
      say(status, "校验通过：没有发现问题，可以部署为第" + result.version + "版。");
      return;
    }
    say(status, result.created
      ? "已部署：" + result.name + "第" + result.version + "版。"
      : "内容与最新版本相同，未部署新版本（第" + result.version + "版）。");
    var link = document.createElement("a");
    link.href = body.versions_url;
    link.textContent = "查看版本列表";
    status.appendChild(document.createTextNode(" "));
    status.appendChild(link);
  }

  document.getElementById("modeler-validate").addEventListener("click", function () { send(true); });
  document.getElementById("modeler-upload").addEventListener("click", function () { send(false); });
  document.getElementById("modeler-download").addEventListener("click", function () {
    modeler.saveXML({ format: true }).then(function (saved) {
      var url = URL.createObjectURL(new Blob([saved.xml], { type: "application/xml" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = key + ".bpmn";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  });
})();
