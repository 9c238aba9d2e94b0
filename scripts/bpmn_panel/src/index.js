// The browser bundle beside bpmn-js's prebuilt Modeler: process_modeler.js passes these modules
// and the camunda moddle extension to it when window.AidFlowPropertiesPanel is there.
import { BpmnPropertiesPanelModule } from "bpmn-js-properties-panel";
import camunda from "camunda-bpmn-moddle/resources/camunda.json";
import { AidFlowPropertiesModule } from "./aidflow_properties.js";

window.AidFlowPropertiesPanel = {
  modules: [BpmnPropertiesPanelModule, AidFlowPropertiesModule],
  moddleExtensions: { camunda: camunda }
};
