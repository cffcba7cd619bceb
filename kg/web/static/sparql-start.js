// YASGUI over kg's /sparql (read-only), with kg's saved queries in the menu above it.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("kg-data").textContent);
  var endpoint = location.origin + "/sparql";
  var first = data.examples.length ? data.examples[0].query : "SELECT * WHERE { ?s ?p ?o } LIMIT 10";
  Yasgui.Yasqe.defaults.value = first;
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; }, keys: [] },
    persistenceId: "kg-sparql-" + location.host
  });
  var tab = function () { return yasgui.getTab(); };
  if (tab() && tab().getEndpoint() !== endpoint) tab().setEndpoint(endpoint);
  var select = document.getElementById("examples");
  select.addEventListener("change", function () {
    var ex = data.examples[+select.value];
    if (!ex) return;
    tab().getYasqe().setValue(ex.query);
    tab().setName(ex.name);
  });
  window.kgSparql = { yasgui: yasgui, examples: data.examples };
  document.body.dataset.ready = "1";
})();
