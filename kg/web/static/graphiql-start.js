// GraphiQL over kg's /graphql: the saved queries as tabs; a query given in the page's URL is run at once.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("kg-data").textContent);
  var props = {
    fetcher: GraphiQL.createFetcher({ url: location.origin + "/graphql" }),
    defaultQuery: data.defaultQuery,
    defaultTabs: data.tabs,
    defaultEditorToolsVisibility: true
  };
  if (data.query != null) {
    props.query = data.query;
    if (data.variables) props.variables = data.variables;
  }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
  var tries = 0;
  (function ready() {
    var run = document.querySelector(".graphiql-execute-button");
    if (!run) { if (++tries < 400) setTimeout(ready, 25); return; }
    document.body.dataset.ready = "1";
    if (data.run) run.click();
  })();
})();
